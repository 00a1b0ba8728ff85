// # The conformance runner
//
// tsraft's claim to follow etcd's Raft is checked by replaying etcd's own scenario files and comparing every
// output byte for byte. `runScenario` replays one file's text through the right harness; run as a program,
//
//     node dist/raft/rafttest/conformance.js raft/testdata/etcd [--rewrite] [--verbose]
//
// replays every `*.txt` under a directory, prints one line per file and, last, `N passed, N failed` counting
// files. The harness is chosen by the folder a file sits in: `quorum/` and `confchange/` hold the scenarios of the
// quorum and configuration-change maths, each with a harness of its own; every other file is an interaction
// scenario. With --rewrite, each file's outputs are replaced by what tsraft printed: only for
// scenarios of tsraft's own, after reading the new output and checking it is the behaviour wanted.
//
// The program part is the harness's command-line front end; it is the only code under raft/ that touches the
// file system, and nothing in the core imports it.

import * as fs from 'fs';
import * as path from 'path';

import { RaftPanic } from '../logger';
import { CaseResult, Handler, RunResult, runText } from './datadriven';
import { confChangeHandler } from './confchange_handler';
import { InteractionEnv, InteractionOpts } from './interaction_env';
import { handle } from './interaction_env_handler';
import { handleQuorum } from './quorum_handler';

/** Makes a fresh handler for one file: each file starts from an empty state. */
export type HandlerFactory = () => Handler;

// Folders whose scenarios exercise one piece of the maths directly rather than whole nodes.
const kinds: ReadonlyMap<string, HandlerFactory> = new Map<string, HandlerFactory>([
  ['quorum', () => handleQuorum],
  ['confchange', confChangeHandler],
]);

/** A handler running interaction commands against a fresh InteractionEnv. */
export function interactionHandler(opts?: InteractionOpts): Handler {
  const env = new InteractionEnv(opts);
  return (d) => handle(env, d);
}

/** The harness for `file`: the one registered for its folder's name, else the interaction environment. */
export function handlerFor(file: string): Handler {
  const factory = kinds.get(path.basename(path.dirname(file)));
  return factory !== undefined ? factory() : interactionHandler();
}

/** A replayed scenario: every case's verdict, and the first failure that stopped the run, if any. */
export interface ScenarioRun extends RunResult {
  /**
   * The error a case threw (a panic, a malformed command); the cases after it were not run. A panic may be the
   * expected outcome of its case (see runScenario), so a failure here does not by itself fail the scenario.
   */
  failure: string | null;
}

/**
 * Replays the scenario `text` (from `file`, whose folder selects the harness), running every case even after a
 * mismatch, so that each case gets a verdict. Once a case throws, the scenario's state is unknown, so the later
 * cases report that failure instead of running, and no rewritten text is produced: a file must never be rewritten
 * with the output of a failure. A case in which the core panics prints `panic`, which is how scenarios recorded
 * from etcd write a case where etcd panics; the panic's message is kept in `failure`.
 */
export function runScenario(text: string, file: string, options: { rewrite?: boolean } = {}): ScenarioRun {
  const handler = handlerFor(file);
  const state: { failure: string | null } = { failure: null };
  const guarded: Handler = (d) => {
    if (state.failure !== null) {
      return `not run: an earlier case failed (${state.failure})`;
    }
    try {
      return handler(d);
    } catch (err) {
      state.failure = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return err instanceof RaftPanic ? 'panic' : `${d.pos}: ${d.cmd} threw ${state.failure}`;
    }
  };
  const run = runText(text, path.basename(file), guarded, { rewrite: options.rewrite, continueAfterFailure: true });
  return { ...run, rewritten: state.failure === null ? run.rewritten : null, failure: state.failure };
}

/** The outcome of one file. */
export interface FileReport {
  file: string;
  passedCases: number;
  totalCases: number;
  results: CaseResult[];
  /** Why the replay stopped early (see ScenarioRun.failure), or null. */
  failure: string | null;
}

/** Every `*.txt` under `dir`, recursively, in sorted order; `dir` may also name a single file. */
export function scenarioFiles(dir: string): string[] {
  if (!fs.statSync(dir).isDirectory()) {
    return [dir];
  }
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (fs.statSync(full).isDirectory()) {
      out.push(...scenarioFiles(full));
    } else if (name.endsWith('.txt')) {
      out.push(full);
    }
  }
  return out;
}

/** Replays the file at `file`; with `rewrite`, writes the actual outputs back into it. */
export function runScenarioFile(file: string, options: { rewrite?: boolean } = {}): FileReport {
  const text = fs.readFileSync(file, 'utf8');
  let results: CaseResult[];
  let failure: string | null;
  try {
    const run = runScenario(text, file, options);
    results = run.results;
    failure = run.failure;
    if (options.rewrite === true && run.rewritten !== null && run.rewritten !== text) {
      fs.writeFileSync(file, run.rewritten);
    }
  } catch (err) {
    // A file that cannot even be parsed counts as one failed case.
    const message = err instanceof Error ? err.message : String(err);
    failure = message;
    results = [{ data: { pos: file, cmd: '', cmdArgs: [], input: '', expected: '' }, actual: '', passed: false, message }];
  }
  return {
    file,
    passedCases: results.filter((r) => r.passed).length,
    totalCases: results.length,
    results,
    failure,
  };
}

/** Whether a file replayed with no mismatch. */
export function filePassed(r: FileReport): boolean {
  return r.totalCases > 0 && r.passedCases === r.totalCases;
}

/**
 * Replays every scenario under each of `paths` (directories or single files) and writes one line per file, then
 * the case totals and, last, `N passed, N failed` counting files. Returns the number of files that failed.
 */
export function replayAll(
  paths: string[],
  write: (line: string) => void,
  options: { rewrite?: boolean; verbose?: boolean } = {},
): number {
  const reports: FileReport[] = [];
  for (const root of paths) {
    for (const file of scenarioFiles(root)) {
      const r = runScenarioFile(file, { rewrite: options.rewrite });
      reports.push(r);
      // With several roots, each file is named with its root's folder, so equal names stay apart.
      const name = path.relative(paths.length > 1 ? path.dirname(root) : root, file) || path.basename(file);
      write(`${filePassed(r) ? 'PASS' : 'FAIL'}  ${name.padEnd(56)} ${r.passedCases}/${r.totalCases} cases`);
      if (options.rewrite === true && r.failure !== null) {
        write(`      not rewritten: ${r.failure}`);
      }
      const failed = r.results.find((c) => !c.passed);
      if (options.verbose === true && failed !== undefined) {
        write(failed.message.replace(/^/gm, '      '));
      }
    }
  }
  const cases = reports.reduce((n, r) => n + r.totalCases, 0);
  const casesPassed = reports.reduce((n, r) => n + r.passedCases, 0);
  const passed = reports.filter(filePassed).length;
  write(`cases: ${casesPassed} passed, ${cases - casesPassed} failed`);
  write(`${passed} passed, ${reports.length - passed} failed`);
  return reports.length - passed;
}

function main(argv: string[]): number {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const paths = argv.filter((a) => !a.startsWith('--'));
  const unknown = [...flags].filter((f) => f !== '--rewrite' && f !== '--verbose');
  if (paths.length === 0 || unknown.length > 0) {
    process.stderr.write('usage: conformance <dir-or-file>... [--rewrite] [--verbose]\n');
    return 2;
  }
  const write = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  const failed = replayAll(paths, write, { rewrite: flags.has('--rewrite'), verbose: flags.has('--verbose') });
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
