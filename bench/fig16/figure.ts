// The whole of Figure 16: every line of both halves, in two variants of the core (the paper's Raft, and Raft with
// PreVote), summarised beside the numbers the paper gives, and drawn as the paper draws it.

import fs from 'node:fs';
import path from 'node:path';
import { CdfPoint, renderChart } from './chart';
import { Conditions, TimeoutRange, TrialResult, paperConditions, runTrial } from './experiment';

/** The top half varies the randomness; the bottom half scales the minimum timeout. */
export const topRanges: TimeoutRange[] = [
  { lo: 150, hi: 150 },
  { lo: 150, hi: 151 },
  { lo: 150, hi: 155 },
  { lo: 150, hi: 175 },
  { lo: 150, hi: 200 },
  { lo: 150, hi: 300 },
];
export const bottomRanges: TimeoutRange[] = [
  { lo: 12, hi: 24 },
  { lo: 25, hi: 50 },
  { lo: 50, hi: 100 },
  { lo: 100, hi: 200 },
  { lo: 150, hi: 300 },
];

/** A variant of the experiment: the core with or without PreVote, and (as a control) logs left equal. */
export interface Variant {
  name: string;
  preVote: boolean;
  unequalLogs: boolean;
}

export const variants: Variant[] = [
  { name: "without PreVote (the paper's Raft)", preVote: false, unequalLogs: true },
  { name: 'with PreVote (thesis §9.6)', preVote: true, unequalLogs: true },
  { name: 'without PreVote, equal logs (control)', preVote: false, unequalLogs: false },
];

/** The statistics of one line. */
export interface LineSummary {
  range: string;
  variant: string;
  trials: number;
  /** Trials with no leader after `capMs`. */
  censored: number;
  /** Milliseconds; Infinity stands for "more than capMs" when the statistic falls among censored trials. */
  median: number;
  mean: number;
  p99: number;
  worst: number;
  /** Mean elections (terms) per trial after the crash. */
  elections: number;
}

/** A number the paper reports for one line. */
export interface PaperNumber {
  range: string;
  statistic: 'median' | 'mean' | 'worst';
  ms: number;
  /** The paper gives a bound, not a value: "more than". */
  atLeast: boolean;
}

export const paperNumbers: PaperNumber[] = [
  { range: '150-150', statistic: 'median', ms: 10_000, atLeast: true },
  { range: '150-155', statistic: 'median', ms: 287, atLeast: false },
  { range: '150-200', statistic: 'worst', ms: 513, atLeast: false },
  { range: '12-24', statistic: 'mean', ms: 35, atLeast: false },
  { range: '12-24', statistic: 'worst', ms: 152, atLeast: false },
];

export interface FigureOptions {
  /** Trials per line (the paper: 1,000); the 150-150 line gets a tenth, as in the paper. */
  trials: number;
  conditions?: Conditions;
  /** Told after each line. */
  progress?: (summary: LineSummary) => void;
}

export interface FigureResult {
  conditions: Conditions;
  summaries: LineSummary[];
  points: CdfPoint[];
}

export function rangeName(r: TimeoutRange): string {
  return `${r.lo}-${r.hi}`;
}

/** Runs every distinct line of the figure in every variant. */
export function runFigure(opts: FigureOptions): FigureResult {
  const conditions = opts.conditions ?? paperConditions;
  const ranges = [...topRanges, ...bottomRanges].filter((r, i, all) => all.findIndex((o) => rangeName(o) === rangeName(r)) === i);
  const summaries: LineSummary[] = [];
  const points: CdfPoint[] = [];
  ranges.forEach((range, lineNo) => {
    const trials = range.lo === range.hi ? Math.max(1, Math.round(opts.trials / 10)) : opts.trials;
    for (const variant of variants) {
      const results: TrialResult[] = [];
      for (let t = 0; t < trials; t++) {
        results.push(runTrial(range, 1_000_003 * (lineNo + 1) + t, { ...conditions, preVote: variant.preVote, unequalLogs: variant.unequalLogs }));
      }
      const summary = summarize(rangeName(range), variant.name, results);
      summaries.push(summary);
      points.push(...cdf(summary.range, variant.name, results));
      opts.progress?.(summary);
    }
  });
  return { conditions, summaries, points };
}

function summarize(range: string, variant: string, results: TrialResult[]): LineSummary {
  const sorted = results.map((r) => (r.censored ? Infinity : r.ms)).sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Infinity;
  const censored = results.filter((r) => r.censored).length;
  return {
    range,
    variant,
    trials: results.length,
    censored,
    median: at(0.5),
    // With censored trials the mean is unbounded; it is reported as "more than" the mean with them at the cap.
    mean: censored > 0 ? Infinity : sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p99: at(0.99),
    worst: sorted[sorted.length - 1] ?? Infinity,
    elections: results.reduce((a, r) => a + r.elections, 0) / results.length,
  };
}

// At most about 200 points per line: the chart needs the shape, not every trial.
function cdf(line: string, variant: string, results: TrialResult[]): CdfPoint[] {
  const done = results.filter((r) => !r.censored).map((r) => r.ms).sort((a, b) => a - b);
  const stride = Math.max(1, Math.floor(done.length / 200));
  const out: CdfPoint[] = [];
  done.forEach((ms, i) => {
    if (i % stride === 0 || i === done.length - 1) out.push({ line, variant, ms, percent: (100 * (i + 1)) / results.length });
  });
  return out;
}

function statistic(s: LineSummary, which: PaperNumber['statistic']): number {
  return which === 'median' ? s.median : which === 'mean' ? s.mean : s.worst;
}

function ms(value: number, capMs: number): string {
  return Number.isFinite(value) ? value.toFixed(0) : `> ${capMs.toLocaleString('en-US')}`;
}

/** The comparison with the paper: one row per number it gives, with our values and ratios. */
export function comparisonTable(result: FigureResult): string {
  const cap = result.conditions.capMs;
  const head = ['line (ms)', 'statistic', 'paper (ms)', ...variants.flatMap((v) => [`${v.name} (ms)`, 'ratio'])];
  const rows = paperNumbers.map((p) => {
    const cells = [p.range, p.statistic, `${p.atLeast ? '> ' : ''}${p.ms.toLocaleString('en-US')}`];
    for (const v of variants) {
      const s = result.summaries.find((x) => x.range === p.range && x.variant === v.name);
      const ours = s === undefined ? NaN : statistic(s, p.statistic);
      cells.push(s === undefined ? '-' : ms(ours, cap));
      if (p.atLeast) cells.push(Number.isFinite(ours) ? (ours >= p.ms ? 'also more' : 'less') : cap >= p.ms ? 'also more' : 'stopped sooner');
      else cells.push(Number.isFinite(ours) ? (ours / p.ms).toFixed(2) : '-');
    }
    return cells;
  });
  return markdownTable(head, rows);
}

/** Every line's statistics. */
export function summaryTable(result: FigureResult): string {
  const cap = result.conditions.capMs;
  const head = ['line (ms)', 'variant', 'trials', 'median', 'mean', '99th pct', 'worst', `no leader after ${cap / 1000} s`, 'elections per trial'];
  const rows = result.summaries.map((s) => [
    s.range, s.variant, String(s.trials), ms(s.median, cap), ms(s.mean, cap), ms(s.p99, cap), ms(s.worst, cap), String(s.censored), s.elections.toFixed(2),
  ]);
  return markdownTable(head, rows);
}

function markdownTable(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Writes top.svg/png, bottom.svg/png and results.md into `dir`. */
export async function writeFigure(result: FigureResult, dir: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const halves = [
    { file: 'top', title: 'Figure 16 (top): randomness of the election timeout varied', ranges: topRanges, xScale: 'log' as const, xDomain: [100, 10_000] as [number, number] },
    { file: 'bottom', title: 'Figure 16 (bottom): minimum election timeout scaled', ranges: bottomRanges, xScale: 'linear' as const, xDomain: [0, 600] as [number, number] },
  ];
  for (const half of halves) {
    const lines = half.ranges.map(rangeName);
    const { svg, png } = await renderChart({
      title: half.title,
      points: result.points.filter((p) => lines.includes(p.line)),
      lines,
      variants: variants.map((v) => v.name),
      xScale: half.xScale,
      xDomain: half.xDomain,
    });
    for (const [ext, data] of [['svg', svg], ['png', png]] as const) {
      const file = path.join(dir, `${half.file}.${ext}`);
      fs.writeFileSync(file, data);
      written.push(file);
    }
  }
  const c = result.conditions;
  const md = [
    '# Figure 16 on tsraft: the numbers',
    '',
    `Written by \`make paper-fig16\`. ${c.servers} servers, one-way message delays uniform in [${c.minDelayMs}, ${c.maxDelayMs}] ms, a ${c.tickMs} ms tick,`,
    `trials stopped ${c.capMs / 1000} s after the crash. See [figure-16.md](../figure-16.md) for the set-up and what it means.`,
    '',
    '## Beside the paper',
    '',
    comparisonTable(result),
    '',
    '## Every line',
    '',
    summaryTable(result),
    '',
  ].join('\n');
  const mdFile = path.join(dir, 'results.md');
  fs.writeFileSync(mdFile, md);
  written.push(mdFile);
  return written;
}
