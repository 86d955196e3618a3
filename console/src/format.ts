/** Money arrives as a canonical decimal string ("12.5"); shown with at least two decimals, never through a float. */
export function money(value: string | null | undefined, currency?: string): string {
  if (value == null) return '—';
  const [whole, fraction = ''] = value.split('.');
  const shown = `${whole}.${fraction.padEnd(2, '0')}`;
  return currency ? `${shown} ${currency}` : shown;
}

export function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function seconds(total: number): string {
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}
