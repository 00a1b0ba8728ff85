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
