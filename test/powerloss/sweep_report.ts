// The counts a power-loss sweep reports, printed in one line so a run's figures can be quoted.
import * as path from 'path';

export interface SweepCounts {
  /** Crash points tried. */
  points: number;
  /** Restarts that recovered every acknowledged write. */
  recoveries: number;
  /** Restarts refused, with an error naming a file, after synced data was really damaged (media faults). */
  refusals: number;
  /** Restarts refused although nothing synced was lost: a defect. */
  unwarrantedRefusals: number;
  /** Restarts that came up without an acknowledged write: the worst defect. */
  silentLosses: number;
}

/** Prints the counts (and the first failures) to standard output. */
export function reportSweep(name: string, c: SweepCounts, failures: readonly string[]): void {
  const line = `${name}: ${c.points} crash points tried, ${c.recoveries} recoveries, ${c.refusals} refusals, ` +
    `${c.unwarrantedRefusals} unwarranted refusals, ${c.silentLosses} silent losses`;
  process.stdout.write(`${line}\n${failures.slice(0, 10).map((f) => `  ${f}\n`).join('')}`);
}

/** Whether a refusal's message names a file or directory of the member's data directory. */
export function refusalNamesFile(message: string, dataDir: string): boolean {
  return message.includes(dataDir) || /[0-9a-f]{16}-[0-9a-f]{16}\.(wal|snap)/.test(message) ||
    message.includes(path.basename(dataDir));
}
