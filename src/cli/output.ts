export type Row = Record<string, unknown>;

/** A list of named things (API scopes) shows their names. */
const nameOf = (item: unknown): unknown => (item && typeof item === 'object' && 'name' in item ? item.name : item);

const show = (value: unknown): string =>
  value === undefined || value === null
    ? ''
    : value instanceof Date
      ? value.toISOString()
      : Array.isArray(value)
        ? value.map((item) => show(nameOf(item))).join(', ')
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);

/** `--json`: the rows as a JSON array; otherwise an aligned table with a header (of `only` these columns, if given). */
export function formatTable(rows: Row[], json: boolean, only?: readonly string[]): string {
  if (json) return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return '(none)';
  const columns = only ? [...only] : [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = [columns, ...rows.map((row) => columns.map((column) => show(row[column])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? '').length)));
  return cells
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `--json`: the object as JSON; otherwise one "key  value" line per field. */
export function formatRecord(record: Row, json: boolean): string {
  if (json) return JSON.stringify(record, null, 2);
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  return Object.entries(record)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key.padEnd(width)}  ${show(value)}`)
    .join('\n');
}
