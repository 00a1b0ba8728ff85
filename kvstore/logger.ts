// # Node logs
//
// The core speaks through raft/logger.ts; this is the node's implementation. Each node prints in its own colour
// so the interleaved logs of a local cluster stay readable, and the lines that matter most when watching Raft
// (a role or term change: "became leader at term 3") stand out. Output is plain when it is not a terminal or
// when NO_COLOR is set.

import type { Chalk } from 'chalk';
import { Logger, RaftPanic } from '../raft/logger';

/** Levels in increasing severity; a logger prints its level and above. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

// chalk is loaded with the first line that may be coloured, not at start: a member whose output is a file (every
// member a script or a supervisor starts) never needs it, and loading it is time before a restarting member serves.
// Invariant: `colour` is false once configureColour found colour off; undefined leaves the choice to chalk.
let colour: boolean | undefined;
let loaded: Chalk | undefined;

function chalkIfColoured(): Chalk | undefined {
  if (colour === false) return undefined;
  loaded ??= require('chalk') as Chalk;
  return loaded.level === 0 ? undefined : loaded;
}

/** Turns colour off when NO_COLOR is set (chalk 4 ignores it) or the stream is not a terminal. */
export function configureColour(stream: NodeJS.WriteStream = process.stdout): void {
  const noColor = process.env.NO_COLOR;
  if ((noColor !== undefined && noColor !== '') || !stream.isTTY) {
    colour = false;
    if (loaded !== undefined) loaded.level = 0;
  }
}

/** A Logger that prints `time [node N] LEVEL message` lines, coloured per node. */
export function nodeLogger(id: number, level: LogLevel = 'info', write: (line: string) => void = defaultWrite): Logger {
  const line = (lvl: string, message: string): string => {
    const c = chalkIfColoured();
    if (c === undefined) return `${new Date().toISOString()} [node ${id}] ${lvl.padEnd(5)} ${message}`;
    const palette = [c.cyan, c.magenta, c.yellow, c.green, c.blue, c.red];
    const tint = palette[(id - 1 + palette.length) % palette.length] ?? c.white;
    const roleChange = /\bbecame (leader|follower|candidate|pre-candidate)\b|\bstarting a new election\b|\bremoved\b/;
    const text = roleChange.test(message) ? c.bold.inverse(message) : message;
    const tag = lvl === 'ERROR' || lvl === 'PANIC' ? c.red(lvl) : lvl === 'WARN' ? c.yellow(lvl) : lvl;
    return `${new Date().toISOString()} ${tint(`[node ${id}]`)} ${tag.padEnd(5)} ${text}`;
  };
  const at = (lvl: LogLevel, tag: string) => (message: string) => {
    if (rank[lvl] >= rank[level]) write(line(tag, message));
  };
  return {
    debug: at('debug', 'DEBUG'),
    info: at('info', 'INFO'),
    warning: at('warning', 'WARN'),
    error: at('error', 'ERROR'),
    panic: (message: string): never => {
      write(line('PANIC', message));
      throw new RaftPanic(message);
    },
  };
}

function defaultWrite(line: string): void {
  process.stdout.write(`${line}\n`);
}
