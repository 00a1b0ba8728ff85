// # Data-driven files on disk
//
// raft/rafttest/datadriven.ts works on text so that the core stays free of I/O; this wrapper reads scenario files,
// runs them and, when asked, writes the actual outputs back (`TSRAFT_REWRITE=1 npx jest test/...`), the way
// datadriven's -rewrite flag does. Review the resulting `git diff` before committing a rewrite.

import * as fs from 'fs';
import * as path from 'path';

import { CaseResult, Handler, RunOptions, RunResult, runText } from '../../raft/rafttest/datadriven';

/** Whether this run rewrites files instead of checking them. */
export function rewriteRequested(): boolean {
  return process.env.TSRAFT_REWRITE === '1';
}

/** Runs the file at `file` through `handler`; in rewrite mode the file is replaced by the actual outputs. */
export function runFile(file: string, handler: Handler, options: RunOptions = {}): RunResult {
  const rewrite = options.rewrite ?? rewriteRequested();
  const text = fs.readFileSync(file, 'utf8');
  const result = runText(text, path.basename(file), handler, { ...options, rewrite });
  if (rewrite && result.rewritten !== null && result.rewritten !== text) {
    fs.writeFileSync(file, result.rewritten);
  }
  return result;
}

/** Every data file under `dir` (recursively, sorted), skipping hidden, backup and editor lock files. */
export function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (/^\./.test(name) || /~$/.test(name) || /^#.*#$/.test(name)) continue;
    const full = path.join(dir, name);
    if (fs.statSync(full).isDirectory()) {
      out.push(...walk(full));
    } else {
      out.push(full);
    }
  }
  return out;
}

/** The message of the first failing case, or null when all passed (handy with `expect(...).toBeNull()`). */
export function firstFailure(results: readonly CaseResult[]): string | null {
  const failed = results.find((r) => !r.passed);
  return failed === undefined ? null : failed.message;
}
