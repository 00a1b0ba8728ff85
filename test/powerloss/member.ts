// One member of the key-value store, in this process, on its real data directory (kvstore/disk.ts over wal/ and
// snap/, through whatever DurableFs is installed): the RawNode, the Ready loop and the state machine are the real
// ones; only the peers are missing. Alone in its configuration it elects itself and commits by itself; a test can
// play a leader by delivering messages and reading what the member sends.
import { createDisk, diskExists, openDisk } from '../../kvstore/disk';
import { Membership, encodeMemberContext } from '../../kvstore/members';
import { NodeStart, RaftNode } from '../../kvstore/node';
import { Message, StateType } from '../../raft/types';
import { RecordingLogger } from '../support/recording_logger';

export const SELF = { id: 1, peerURL: 'http://127.0.0.1:1', clientURL: '', learner: false };

export interface MemberOptions {
  segmentSize: number;
  snapshotCount: number;
}

/** A running member and what it reported. */
export class InProcessMember {
  /** Messages the member sent to peers, in order. */
  readonly sent: Message[] = [];
  /** Set once the member stopped by itself. */
  stopped: { reason: string; failed: boolean } | null = null;
  readonly node: RaftNode;

  constructor(
    start: NodeStart,
    options: MemberOptions,
    readonly logger: RecordingLogger,
  ) {
    const opts = {
      id: SELF.id,
      tickMs: 1,
      electionTicks: 10,
      heartbeatTicks: 1,
      snapshotCount: options.snapshotCount,
      snapshotCatchup: 2,
      requestTimeoutMs: 3000,
      leaderWaitMs: 0,
      logger,
      randSeed: 1,
    };
    this.node = new RaftNode(opts, start, {
      onPeersChanged: (_members: Membership) => undefined,
      send: (msgs) => this.sent.push(...msgs),
      peerReachable: () => true,
      peerCounters: () => ({ peerRequests: 0, peerMessages: 0 }),
      onStopped: (reason, failed) => {
        this.stopped = { reason, failed };
      },
    });
  }
}

/** Starts the member: created with a one-member cluster if the directory holds none, else restarted from it. */
export function startMember(dataDir: string, options: MemberOptions): InProcessMember {
  const logger = new RecordingLogger();
  let start: NodeStart;
  if (diskExists(dataDir)) {
    start = openDisk(dataDir, logger, { segmentSize: options.segmentSize }).start;
  } else {
    start = createDisk(dataDir, { id: SELF.id, clusterId: 'a1', members: [SELF] }, logger, { segmentSize: options.segmentSize });
    start.bootstrap = [{ id: SELF.id, context: encodeMemberContext({ peerURL: SELF.peerURL, clientURL: '' }) }];
  }
  const member = new InProcessMember(start, options, logger);
  member.node.start();
  return member;
}

/** Polls `cond` every 2 ms until it holds; false after `ms`. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

/** Waits until the member leads (alone in its configuration it elects itself). */
export function leads(m: InProcessMember, ms = 3000): Promise<boolean> {
  return until(() => m.node.role === StateType.StateLeader || m.stopped !== null, ms).then(
    (ok) => ok && m.stopped === null,
  );
}
