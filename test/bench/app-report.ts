/**
 * The app benchmark's figures: percentiles, the table (each figure, its bar, pass or fail) and the JSON
 * line. A figure passes when it is at most its bar; a figure with no bar is shown for context.
 */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: 'ms' | 'KB';
  readonly bar: number;
}

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

export const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
export const p95 = (xs: readonly number[]): number => percentile(xs, 95);
export const median = (xs: readonly number[]): number => percentile(xs, 50);

export const passes = (f: Figure): boolean => Number.isFinite(f.value) && f.value <= f.bar;

export function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${f.value.toFixed(f.unit === 'KB' ? 1 : 0)} ${f.unit}`,
    `≤ ${f.bar} ${f.unit}`,
    passes(f) ? 'pass' : 'FAIL',
  ]);
  const head = ['figure', 'as measured', 'bar', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
