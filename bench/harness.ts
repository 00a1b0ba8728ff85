// # What every end-to-end benchmark needs
//
// Free ports, one HTTP request over a keep-alive agent, polling for a condition with a deadline, percentiles and
// medians, and the CPU time of a process from /proc. The benchmarks in this directory share these, so a figure in
// one means the same as in another.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

/**
 * A port nobody listens on right now, chosen at random below Linux's ephemeral range (32768-60999). A port the kernel
 * hands out may be taken, between this probe and the member's bind, by an outgoing connection or by another
 * program's member started the same way; the load generator would then be talking to someone else's server (a run
 * on a shared machine once counted another cluster's "not found" answers as wrong answers of its own).
 */
export async function freePort(): Promise<number> {
  const [low, span] = portSlice();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * span);
    // Never the same port twice in one process: a cluster's members take theirs only after all are chosen.
    if (handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      // Forget the oldest once half the slice is remembered: those clusters are long gone, and a full set would
      // leave nothing to choose.
      if (handedOut.size > span / 2) handedOut.delete(handedOut.values().next().value as number);
      return port;
    }
  }
  throw new Error(`No free port between ${low} and ${low + span}`);
}

// The range 20000-32000, or under Jest one eighth of it per worker. Workers are separate processes, so the set
// below cannot keep them apart: a member's ports are probed free and bound only when it starts, and stand unbound
// while a test has it stopped, and another worker's probe would find them free in either gap.
function portSlice(): [number, number] {
  const worker = Number(process.env.JEST_WORKER_ID);
  if (!Number.isInteger(worker) || worker < 1) return [20_000, 12_000];
  return [20_000 + ((worker - 1) % 8) * 1_500, 1_500];
}

const handedOut = new Set<number>();

/** An HTTP answer, body as bytes. */
export interface Reply {
  status: number;
  body: Buffer;
}

/**
 * One request to 127.0.0.1:`port`. Rejects on a connection error or when no answer has come within `timeoutMs`
 * (the socket is then destroyed, so a late answer cannot be mistaken for the next request's).
 */
export function request(agent: http.Agent, port: number, method: string, urlPath: string, body?: Buffer, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = body === undefined ? {} : { 'content-length': body.length };
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks) });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns a value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {
      // Not ready yet.
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The p-th percentile of an ascending array (0 for an empty one). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** utime + stime of a process in microseconds, from /proc/<pid>/stat (0 where /proc or the process is gone). */
export function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerSec = 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSec;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (0 where unavailable). */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+([0-9]+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/** The value of `--name` on the command line, if given. */
export function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * Checks a benchmark's command line before anything runs: `--help` prints `usage` and exits; an unknown argument, a
 * flag of `valued` without its value, a value of `numeric` that is not a positive number, or a value of `zeroOrMore`
 * that is not a number of at least zero is refused with the usage and exit status 2. A mistyped flag would otherwise
 * be ignored, and a run of minutes made with the defaults.
 */
export function checkArgs(
  args: readonly string[],
  usage: string,
  valued: readonly string[],
  opts: { switches?: readonly string[]; numeric?: readonly string[]; zeroOrMore?: readonly string[] } = {},
): void {
  const refuse = (problem: string): never => {
    process.stderr.write(`${problem}\nusage: ${usage}\n`);
    process.exit(2);
  };
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(0);
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (opts.switches?.includes(arg) === true) continue;
    if (!valued.includes(arg)) refuse(`Unknown argument "${arg}"`);
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) refuse(`${arg} needs a value`);
    if (opts.numeric?.includes(arg) === true && !(Number(value) > 0)) refuse(`${arg} must be a positive number, not "${value}"`);
    if (opts.zeroOrMore?.includes(arg) === true && !(value.trim() !== '' && Number(value) >= 0)) refuse(`${arg} must be a number of at least 0, not "${value}"`);
    i++;
  }
}

/** A short description of the machine, for the header of a result. */
export function machineLine(): string {
  const cpus = (() => {
    try {
      const m = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
      return m?.[1]?.trim() ?? 'unknown CPU';
    } catch {
      return 'unknown CPU';
    }
  })();
  const cores = (() => {
    try {
      return fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
    } catch {
      return 0;
    }
  })();
  return `${new Date().toISOString().slice(0, 16)}Z, ${cores} cores (${cpus}), Node ${process.version}`;
}
