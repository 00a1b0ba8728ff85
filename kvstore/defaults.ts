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

/**
 * The environment for a member process started from `base` with its log going to a file: the same, without
 * NODE_EXTRA_CA_CERTS, with NO_COLOR set, plus `extra`.
 */
export function memberProcessEnv(base: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, NO_COLOR: '1', ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}
