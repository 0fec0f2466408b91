/** "2026-11-30 23:41 UTC": dates as the console shows them. */
export function showDate(value: string | Date | null | undefined): string {
  if (!value) return '—';
  const date = typeof value === 'string' ? new Date(value) : value;
  return `${date.toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

/** "3 days", "5 hours", "12 minutes": a length of time, roughly. */
export function showDuration(seconds: number): string {
  const abs = Math.abs(seconds);
  const [amount, unit] =
    abs >= 86400
      ? [Math.floor(abs / 86400), 'day']
      : abs >= 3600
        ? [Math.floor(abs / 3600), 'hour']
        : [Math.max(1, Math.floor(abs / 60)), 'minute'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}
