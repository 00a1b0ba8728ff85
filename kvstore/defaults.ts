// # Defaults of a member's settings
//
// Apart from kvstore/serve.ts so that the command line can show them without loading the member.

import type { ServeOptions } from './serve';

/** The settings `tsraft serve` and `startMember` use when they are not given. */
export const serveDefaults = {
  tickMs: 100,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotCount: 10_000,
  snapshotCatchup: 5_000,
  maxKeyBytes: 4096,
  maxValueBytes: 1024 * 1024,
  requestTimeoutMs: 5_000,
} as const satisfies Partial<ServeOptions>;

// A member makes no TLS connection (every URL it is given is http://), yet Node reads and parses the certificate
// bundle named by NODE_EXTRA_CA_CERTS when its process starts, before any of tsraft runs. With Debian's bundle that
// is about 40 ms of CPU, paid again at every restart before the member can bind its ports. Whatever launches members
// (the Makefile, the benchmarks, the test clusters) leaves the variable out.
//
// The launchers also give Node one setting that a member cannot make for itself, because V8 reads it once, as the
// process starts: the size of V8's pool of worker threads, which run the optimising compiler's jobs and the
// collector's concurrent and parallel work. Node's default is four. Three members on a machine of two cores then
// have a dozen such threads, busy exactly when the members are: after a restart, while every member compiles its
// hot path. With one worker each, that work queues inside each member instead of taking the cores from the members'
// own threads; measured in docs/operations.md ("One V8 worker thread per member"). A pool size already in
// NODE_OPTIONS is left as it is.

// The V8 worker pool size launchers give a member process.
const MEMBER_V8_POOL_SIZE = 1;

/**
 * The environment for a member process started from `base` with its log going to a file: the same, without
 * NODE_EXTRA_CA_CERTS, with NO_COLOR set and V8's worker pool sized in NODE_OPTIONS, plus `extra`.
 */
export function memberProcessEnv(base: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, NO_COLOR: '1', ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  const options = env.NODE_OPTIONS ?? '';
  if (!options.includes('--v8-pool-size')) env.NODE_OPTIONS = `${options} --v8-pool-size=${MEMBER_V8_POOL_SIZE}`.trim();
  return env;
}
