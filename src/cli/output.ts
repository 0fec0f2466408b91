export type Row = Record<string, unknown>;

/** `--json`: the object as JSON; otherwise one "key  value" line per field. */
export function formatRecord(record: Row, json: boolean): string {
  if (json) return JSON.stringify(record, null, 2);
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  return Object.entries(record)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key.padEnd(width)}  ${Array.isArray(value) ? value.join(', ') : typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join('\n');
}
