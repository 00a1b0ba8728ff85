// The peer transport on loopback: batches arrive in order, a stalled peer neither blocks the sender nor delays
// another peer, its queue stays bounded and it is reported unreachable, and requests are refused by their headers.

import http from 'node:http';
import { AddressInfo } from 'node:net';
import { discardLogger } from '../../raft/logger';
import { Message, MessageType, NodeId, newMessage } from '../../raft/types';
import { Transport } from '../../transport/transport';

const clusterId = 'c1';

function heartbeat(from: NodeId, to: NodeId, term: number): Message {
  return newMessage({ type: MessageType.MsgHeartbeat, from, to, term });
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('Condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('Transport', () => {
  const transports: Transport[] = [];
  let stalled: http.Server;
  let stalledPort = 0;
  const held: http.ServerResponse[] = [];

  beforeAll(async () => {
    // A peer that accepts connections and never answers.
    stalled = http.createServer((_req, res) => {
      held.push(res);
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', () => resolve()));
    stalledPort = (stalled.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const t of transports) await t.stop();
    for (const res of held) res.destroy();
    stalled.closeAllConnections();
    await new Promise((resolve) => stalled.close(resolve));
  });

  function make(id: NodeId, delivered: Message[], unreachable: NodeId[], members: NodeId[]): Transport {
    const t = new Transport({
      localId: id,
      clusterId,
      logger: discardLogger,
      memberStatus: (from) => (members.includes(from) ? 'member' : 'unknown'),
      deliver: (msgs) => delivered.push(...msgs),
      reportUnreachable: (peer) => unreachable.push(peer),
      reportSnapshot: () => undefined,
      onRemoved: () => undefined,
      maxQueued: 8,
      requestTimeoutMs: 60_000,
    });
    transports.push(t);
    return t;
  }

  test('a stalled peer does not delay another peer, and its queue stays bounded', async () => {
    const toTwo: Message[] = [];
    const unreachableFromOne: NodeId[] = [];
    const one = make(1, [], unreachableFromOne, [2, 3]);
    const two = make(2, toTwo, [], [1]);
    const twoPort = await two.listen('127.0.0.1', 0);
    await one.listen('127.0.0.1', 0);
    one.syncPeers([
      { id: 2, peerURL: `http://127.0.0.1:${twoPort}` },
      { id: 3, peerURL: `http://127.0.0.1:${stalledPort}` },
    ]);

    // Peer 2 keeps up with every round while peer 3 answers nothing.
    for (let term = 1; term <= 50; term++) {
      one.send([heartbeat(1, 3, term), heartbeat(1, 2, term)]);
      await until(() => toTwo.length === term);
    }
    expect(toTwo.map((m) => m.term)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // Peer 3 has one request stuck in flight and 8 queued; the rest were dropped and reported.
    expect(unreachableFromOne.filter((id) => id === 3).length).toBe(50 - 1 - 8);
  });

  test('a down peer is reported unreachable and reached again once it is back', async () => {
    const received: Message[] = [];
    const unreachable: NodeId[] = [];
    const one = make(1, [], unreachable, [4]);
    await one.listen('127.0.0.1', 0);
    const four = make(4, received, [], [1]);
    const port = await four.listen('127.0.0.1', 0);
    await four.stop();
    one.syncPeers([{ id: 4, peerURL: `http://127.0.0.1:${port}` }]);
    one.send([heartbeat(1, 4, 1)]);
    await until(() => unreachable.includes(4));

    const again = make(4, received, [], [1]);
    await again.listen('127.0.0.1', port);
    one.send([heartbeat(1, 4, 2)]);
    await until(() => received.length === 1);
    expect(received[0]?.term).toBe(2);
  });

  test('messages from a non-member are refused and never delivered', async () => {
    const delivered: Message[] = [];
    const five = make(5, delivered, [], [1]);
    const port = await five.listen('127.0.0.1', 0);
    const unreachable: NodeId[] = [];
    const stranger = make(9, [], unreachable, []);
    stranger.syncPeers([{ id: 5, peerURL: `http://127.0.0.1:${port}` }]);
    stranger.send([heartbeat(9, 5, 1)]);
    await until(() => unreachable.includes(5));
    expect(delivered).toEqual([]);
  });
});
