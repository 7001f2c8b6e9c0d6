/** Markdown tables and medians for the benchmark reports. */
export interface Row {
  [column: string]: string | number;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2);
}

export function table(title: string, rows: Row[]): void {
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => (typeof r[c] === 'number' ? formatNumber(r[c] as number) : String(r[c]))));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => '| ' + vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(`\n### ${title}\n`);
  console.log(line(cols));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const row of cells) console.log(line(row));
}

export function medianBy<T>(xs: T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Index of the median of `xs` (the lower one for an even count). */
export function medianRound(xs: number[]): number {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  return order[Math.floor((order.length - 1) / 2)]![1];
}

/** "41 44 39 …": each round's ratio in percent, in the order run. */
export const ratios = (ours: number[], base: number[]): string => ours.map((x, i) => ((x / base[i]!) * 100).toFixed(0)).join(' ');

export const pct = (a: number, b: number): string => `${((a / b) * 100).toFixed(0)} %`;
