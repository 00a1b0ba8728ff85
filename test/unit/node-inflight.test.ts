// The byte cap on appends in flight to one follower (kvstore/node.ts sets `maxInflightBytes` to 8 MiB). Without it
// the leader would send a follower far behind 256 appends of up to 1 MiB in one Ready, and encoding and writing them
// holds its only thread for seconds. Member 3 is played by hand: it accepts the leader's probe, then acknowledges
// nothing until the test says so, so every append sent to it stays in flight.

import { CommandOp } from '../../kvstore/command';
import { payloadSize } from '../../raft/util';
import { Message, MessageType, newMessage } from '../../raft/types';
import { TestCluster, runLoop, waitFor } from './node_fakes';

const MiB = 1024 * 1024;
const CAP = 8 * MiB;
// The core stops sending once the bytes in flight reach the cap, so the last append may take it past the cap by at
// most one message's worth (`maxSizePerMsg`, 1 MiB).
const MAX_MSG = 1 * MiB;

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

function appendsTo3(c: TestCluster, from = 0): Message[] {
  return c.outside.slice(from).filter((m) => m.type === MessageType.MsgApp && m.to === 3);
}

function bytesOf(msgs: Message[]): number {
  let n = 0;
  for (const m of msgs) for (const e of m.entries) n += payloadSize(e);
  return n;
}

function ack(m: Message): Message {
  return newMessage({ type: MessageType.MsgAppResp, from: 3, to: m.from, term: m.term, index: m.index + m.entries.length });
}

test('a leader keeps at most 8 MiB (plus one message) of appends unacknowledged to a follower, and sends more as it acknowledges', async () => {
  const c = new TestCluster([1, 2], (id) => ({ electionTicks: id === 2 ? 3 : 30 }), [3]);
  c.start();
  await waitFor(() => c.leader()?.id === 2, 'member 2 leads');
  const leader = c.node(2);

  // Member 3 accepts the leader's probe: the leader replicates to it optimistically from then on.
  await waitFor(() => appendsTo3(c).length > 0, 'the leader probes member 3');
  const probes = appendsTo3(c);
  leader.deliver([ack(probes[probes.length - 1])]);
  await waitFor(() => leader.progress().get(3)?.state === 'StateReplicate', 'member 3 is replicated to');

  // 40 writes of 512 KiB: 20 MiB that members 1 and 2 commit without member 3.
  const mark = c.outside.length;
  const value = Buffer.alloc(MiB / 2, 0x61);
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) writes.push(leader.propose(CommandOp.Put, `k${i}`, value));
  await waitFor(() => c.node(1).applied === leader.applied && leader.applied > 40, 'the writes commit on members 1 and 2');
  await Promise.all(writes);
  await runLoop();

  const sent = appendsTo3(c, mark);
  const inFlight = bytesOf(sent);
  // The cap bounds it, not the count (256 appends) and not the backlog (20 MiB).
  expect(inFlight).toBeGreaterThanOrEqual(CAP);
  expect(inFlight).toBeLessThanOrEqual(CAP + MAX_MSG);
  expect(sent.length).toBeLessThan(256);
  expect(leader.progress().get(3)?.state).toBe('StateReplicate');

  // Acknowledging the first append frees its bytes, and the leader sends that much more.
  const afterFirst = c.outside.length;
  leader.deliver([ack(sent[0])]);
  await runLoop();
  const more = appendsTo3(c, afterFirst);
  expect(more.length).toBeGreaterThan(0);
  expect(inFlight - bytesOf(sent.slice(0, 1)) + bytesOf(more)).toBeLessThanOrEqual(CAP + MAX_MSG);

  // Acknowledging everything sent lets the rest of the backlog go, still within the cap at every step.
  for (let round = 0; round < 20; round++) {
    const all = appendsTo3(c, mark);
    const last = all[all.length - 1];
    if (last.index + last.entries.length >= leader.applied) break;
    const before = c.outside.length;
    leader.deliver([ack(last)]);
    await runLoop();
    expect(bytesOf(appendsTo3(c, before))).toBeLessThanOrEqual(CAP + MAX_MSG);
  }
  const all = appendsTo3(c, mark);
  const last = all[all.length - 1];
  expect(last.index + last.entries.length).toBe(leader.applied);
  c.stopAll();
});
