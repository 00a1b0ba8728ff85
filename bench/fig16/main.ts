// `make paper-fig16`: runs Figure 16 of the Raft paper on the simulator and writes the charts and tables to
// docs/fig16/. Options: --trials N (per line; default the paper's 1,000), --cap-ms MS (when a trial without a
// leader stops; default 10,000), --out DIR.

import path from 'node:path';
import { argValue, checkArgs } from '../harness';
import { paperConditions } from './experiment';
import { comparisonTable, runFigure, writeFigure } from './figure';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => argValue(args, name);

async function main(): Promise<void> {
  checkArgs(args, 'node dist/bench/fig16/main.js [--trials 1000] [--cap-ms 10000] [--out DIR]', ['--trials', '--cap-ms', '--out']);
  const trials = Number(option('--trials') ?? '1000');
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials must be a positive integer, not ${option('--trials')}`);
  const capMs = Number(option('--cap-ms') ?? String(paperConditions.capMs));
  if (!Number.isInteger(capMs) || capMs < 1000) throw new Error(`--cap-ms must be an integer of at least 1000, not ${option('--cap-ms')}`);
  const out = path.resolve(option('--out') ?? path.join(__dirname, '..', '..', '..', 'docs', 'fig16'));
  const started = Date.now();
  const result = runFigure({
    trials,
    conditions: { ...paperConditions, capMs },
    progress: (s) => {
      const median = Number.isFinite(s.median) ? `${s.median.toFixed(0)} ms` : 'beyond the cap';
      process.stderr.write(`${s.range.padEnd(8)} ${s.variant.padEnd(34)} ${s.trials} trials, median ${median}, worst ${Number.isFinite(s.worst) ? `${s.worst.toFixed(0)} ms` : 'beyond the cap'} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    },
  });
  for (const file of await writeFigure(result, out)) console.log(`wrote ${file}`);
  console.log(`\n${comparisonTable(result)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
