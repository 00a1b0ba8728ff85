// The peer transport on loopback: messages arrive in order over one stream per direction, one write per batch; a
// restarted peer is reached again; a wrong cluster, sender or recipient is refused with its HTTP status before any
// frame is read; queues stay bounded; failures are reported unreachable, and refused dials as a peer gone; silent
// streams are noticed and re-dialled.

import http from 'node:http';
import net, { AddressInfo } from 'node:net';
import { discardLogger } from '../../raft/logger';
import { EntryType, Message, MessageType, NodeId, newMessage } from '../../raft/types';
import { STREAM_PATH, STREAM_PROTOCOL, headers } from '../../transport/errors';
import { FrameDecoder, encodeFrames } from '../../transport/framing';
import { StreamTiming } from '../../transport/peer';
import { Transport } from '../../transport/transport';

const clusterId = 'c1';
const fast: Partial<StreamTiming> = { keepaliveMs: 50, idleTimeoutMs: 300, dialTimeoutMs: 300, minBackoffMs: 10, maxBackoffMs: 50 };

function heartbeat(from: NodeId, to: NodeId, term: number): Message {
  return newMessage({ type: MessageType.MsgHeartbeat, from, to, term });
}

function bigAppend(from: NodeId, to: NodeId, index: number, bytes: number): Message {
  const entry = { term: 1, index, type: EntryType.EntryNormal, data: new Uint8Array(bytes) };
  return newMessage({ type: MessageType.MsgApp, from, to, term: 1, index: index - 1, logTerm: 1, entries: [entry] });
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('Condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Member {
  transport: Transport;
  delivered: Message[];
  unreachable: NodeId[];
  /** Peers whose address refused a dial: no process listens there. */
  gone: NodeId[];
  reachable: NodeId[];
  removed: number;
}

/** What a hand-made stream request got: the status, the body of a refusal, the socket of an accepted stream. */
interface Dialled {
  status: number;
  body: string;
  socket: net.Socket | null;
}

function dialStream(port: number, hdrs: Record<string, string>, path = STREAM_PATH): Promise<Dialled> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { connection: 'Upgrade', upgrade: STREAM_PROTOCOL, ...hdrs } });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, body: '', socket }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), socket: null }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Transport', () => {
  const transports: Transport[] = [];
  const servers: http.Server[] = [];
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const t of transports.splice(0)) await t.stop();
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  function make(id: NodeId, members: NodeId[], options: { maxQueued?: number; removed?: NodeId[]; timing?: Partial<StreamTiming> } = {}): Member {
    const m: Member = { transport: null as unknown as Transport, delivered: [], unreachable: [], gone: [], reachable: [], removed: 0 };
    m.transport = new Transport({
      localId: id,
      clusterId,
      logger: discardLogger,
      memberStatus: (from) => (members.includes(from) ? 'member' : options.removed?.includes(from) === true ? 'removed' : 'unknown'),
      deliver: (msgs) => m.delivered.push(...msgs),
      reportUnreachable: (peer) => m.unreachable.push(peer),
      reportGone: (peer) => m.gone.push(peer),
      reportReachable: (peer) => m.reachable.push(peer),
      reportSnapshot: () => undefined,
      onRemoved: () => m.removed++,
      maxQueued: options.maxQueued ?? 4096,
      timing: options.timing ?? fast,
    });
    transports.push(m.transport);
    return m;
  }

  // A server that speaks the first line of the protocol as told, and counts the connections it got.
  async function fakePeer(onUpgrade: (socket: net.Socket) => void): Promise<{ port: number; upgrades: () => number }> {
    let upgrades = 0;
    const server = http.createServer((_req, res) => res.end());
    server.on('upgrade', (_req, socket: net.Socket) => {
      upgrades++;
      sockets.push(socket);
      socket.on('error', () => undefined);
      onUpgrade(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { port: (server.address() as AddressInfo).port, upgrades: () => upgrades };
  }

  test('each send is one write per peer, and messages arrive in the order sent', async () => {
    const one = make(1, [2]);
    const two = make(2, [1]);
    const port = await two.transport.listen('127.0.0.1', 0);
    one.transport.syncPeers([{ id: 2, peerURL: `http://127.0.0.1:${port}` }]);
    await until(() => one.transport.streams().outgoing['2'] === 'open');
    for (let term = 1; term <= 100; term += 4) {
      one.transport.send([heartbeat(1, 2, term), heartbeat(1, 2, term + 1), heartbeat(1, 2, term + 2), heartbeat(1, 2, term + 3)]);
    }
    await until(() => two.delivered.length === 100);
    expect(two.delivered.map((m) => m.term)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(one.transport.counters()).toEqual({ peerRequests: 25, peerMessages: 100 });
    expect(two.transport.streams().incoming).toEqual([1]);
  });

  test('a down peer is reported unreachable, and reached again with backoff once it restarts on its port', async () => {
    const one = make(1, [4]);
    const four = make(4, [1]);
    const port = await four.transport.listen('127.0.0.1', 0);
    one.transport.syncPeers([{ id: 4, peerURL: `http://127.0.0.1:${port}` }]);
    await until(() => one.transport.streams().outgoing['4'] === 'open');
    one.transport.send([heartbeat(1, 4, 1)]);
    await until(() => four.delivered.length === 1);
    // The first stream is no return: nothing was reported unreachable before it.
    expect(one.reachable).toEqual([]);

    expect(one.gone).toEqual([]);
    await four.transport.stop();
    await until(() => one.unreachable.includes(4) && !one.transport.isReachable(4));
    // Nothing listens on the port any more: the dials that follow are refused, which says the process is gone.
    await until(() => one.gone.includes(4));
    // While the peer is down, messages are dropped at once and each drop is reported.
    const reportsBefore = one.unreachable.length;
    one.transport.send([heartbeat(1, 4, 2)]);
    expect(one.unreachable.length).toBeGreaterThan(reportsBefore);

    const again = make(4, [1]);
    await again.transport.listen('127.0.0.1', port);
    await until(() => one.transport.isReachable(4) && one.transport.streams().outgoing['4'] === 'open');
    // The node hears of the return once, when the stream opens again (a leader then heartbeats at once).
    expect(one.reachable).toEqual([4]);
    one.transport.send([heartbeat(1, 4, 3)]);
    await until(() => again.delivered.length === 1);
    expect(again.delivered[0]?.term).toBe(3);
  });

  test('a peer that comes back is dialled as soon as its own stream arrives, without waiting out the backoff', async () => {
    const slow = { ...fast, minBackoffMs: 30_000, maxBackoffMs: 30_000 };
    const one = make(1, [2], { timing: slow });
    const onePort = await one.transport.listen('127.0.0.1', 0);
    const two = make(2, [1]);
    const twoPort = await two.transport.listen('127.0.0.1', 0);
    one.transport.syncPeers([{ id: 2, peerURL: `http://127.0.0.1:${twoPort}` }]);
    await until(() => one.transport.streams().outgoing['2'] === 'open');
    await two.transport.stop();
    await until(() => one.transport.streams().outgoing['2'] === 'waiting');

    // Member 2 restarts on its port and, as every member does when it starts, opens its stream to member 1.
    const again = make(2, [1]);
    await again.transport.listen('127.0.0.1', twoPort);
    again.transport.syncPeers([{ id: 1, peerURL: `http://127.0.0.1:${onePort}` }]);
    await until(() => one.transport.streams().outgoing['2'] === 'open', 5000);
    one.transport.send([heartbeat(1, 2, 7)]);
    await until(() => again.delivered.length === 1);
    expect(again.delivered[0]?.term).toBe(7);
  });

  test('a stream for another cluster, from a stranger or removed member, or for another member is refused with its status', async () => {
    const five = make(5, [1], { removed: [7] });
    const port = await five.transport.listen('127.0.0.1', 0);
    const good = { [headers.clusterId]: clusterId, [headers.from]: '1', [headers.to]: '5' };
    const cases: [Record<string, string>, number, string][] = [
      [{ ...good, [headers.clusterId]: 'other' }, 412, 'ClusterMismatch'],
      [{ ...good, [headers.from]: '9' }, 403, 'UnknownMember'],
      [{ ...good, [headers.from]: 'x' }, 403, 'UnknownMember'],
      [{ ...good, [headers.from]: '7' }, 410, 'RemovedMember'],
      [{ ...good, [headers.to]: '6' }, 421, 'WrongRecipient'],
      [{}, 412, 'ClusterMismatch'],
    ];
    for (const [hdrs, status, code] of cases) {
      const got = await dialStream(port, hdrs);
      expect([got.status, (JSON.parse(got.body) as { error: { code: string } }).error.code]).toEqual([status, code]);
    }
    // A plain request for the stream path, without the upgrade, is told what it lacks.
    const plain = await fetch(`http://127.0.0.1:${port}${STREAM_PATH}`);
    expect([plain.status, plain.headers.get('upgrade')]).toEqual([426, STREAM_PROTOCOL]);
    const accepted = await dialStream(port, good);
    expect(accepted.status).toBe(101);
    accepted.socket?.destroy();
    expect(five.delivered).toEqual([]);
  });

  test('frames that lie about their sender, or cannot be read, close the stream and are never delivered', async () => {
    const five = make(5, [1, 2]);
    const port = await five.transport.listen('127.0.0.1', 0);
    const good = { [headers.clusterId]: clusterId, [headers.from]: '1', [headers.to]: '5' };
    for (const bytes of [encodeFrames([heartbeat(2, 5, 9)]), encodeFrames([heartbeat(1, 6, 9)]), Buffer.from([3, 0x0f, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])]) {
      const { socket } = await dialStream(port, good);
      if (socket === null) throw new Error('stream refused');
      sockets.push(socket);
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.on('error', () => undefined);
      // Read (and discard) the keepalives, or the end of the stream would wait behind them unseen.
      socket.resume();
      socket.write(bytes);
      await closed;
    }
    expect(five.delivered).toEqual([]);
  });

  test('requests a follower relays to its leader may name another member as their sender, but not a stranger', async () => {
    const five = make(5, [1, 2]);
    const port = await five.transport.listen('127.0.0.1', 0);
    const good = { [headers.clusterId]: clusterId, [headers.from]: '1', [headers.to]: '5' };
    const { socket } = await dialStream(port, good);
    if (socket === null) throw new Error('stream refused');
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.resume();
    // Member 1 hands on what member 2 asked of it, as the core words it: a request to lead from the transferee, and
    // a proposal and a read index request that reached member 1 after it stopped leading, from member 2.
    const relayed = [MessageType.MsgTransferLeader, MessageType.MsgProp, MessageType.MsgReadIndex].map((type) => newMessage({ type, from: 2, to: 5, term: 3 }));
    socket.write(encodeFrames(relayed));
    await until(() => five.delivered.length === 3);
    expect(five.delivered.map((m) => [m.type, m.from])).toEqual(relayed.map((m) => [m.type, 2]));
    // Any other message must come from the stream's own sender.
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(encodeFrames([newMessage({ type: MessageType.MsgAppResp, from: 2, to: 5, term: 3 })]));
    await closed;
    expect(five.delivered).toHaveLength(3);
  });

  test('a relayed request naming a stranger as its sender closes the stream', async () => {
    const five = make(5, [1, 2]);
    const port = await five.transport.listen('127.0.0.1', 0);
    const good = { [headers.clusterId]: clusterId, [headers.from]: '1', [headers.to]: '5' };
    for (const type of [MessageType.MsgTransferLeader, MessageType.MsgProp, MessageType.MsgReadIndex]) {
      const { socket } = await dialStream(port, good);
      if (socket === null) throw new Error('stream refused');
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.resume();
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.write(encodeFrames([newMessage({ type, from: 9, to: 5, term: 3 })]));
      await closed;
    }
    expect(five.delivered).toEqual([]);
  });

  test('a stream refused as removed tells the sender it was removed', async () => {
    const one = make(1, [], { removed: [] });
    const eight = make(8, [], { removed: [1] });
    const port = await eight.transport.listen('127.0.0.1', 0);
    one.transport.syncPeers([{ id: 8, peerURL: `http://127.0.0.1:${port}` }]);
    await until(() => one.removed > 0 && one.unreachable.includes(8));
    expect(one.transport.isReachable(8)).toBe(false);
  });

  test('a stranger never gets a message through', async () => {
    const five = make(5, [1]);
    const port = await five.transport.listen('127.0.0.1', 0);
    const stranger = make(9, []);
    stranger.transport.syncPeers([{ id: 5, peerURL: `http://127.0.0.1:${port}` }]);
    await until(() => stranger.unreachable.includes(5));
    stranger.transport.send([heartbeat(9, 5, 1)]);
    expect(five.delivered).toEqual([]);
    expect(stranger.transport.isReachable(5)).toBe(false);
  });

  test('while a dial goes unanswered, the queue holds at most maxQueued messages and drops the rest', async () => {
    const silent = await fakePeer(() => undefined);
    const one = make(1, [3], { maxQueued: 8 });
    one.transport.syncPeers([{ id: 3, peerURL: `http://127.0.0.1:${silent.port}` }]);
    for (let term = 1; term <= 20; term++) one.transport.send([heartbeat(1, 3, term)]);
    expect(one.unreachable.filter((id) => id === 3)).toHaveLength(12);
  });

  test('a peer that stops reading fills its socket, then the bounded queue, then drops newer messages, in order', async () => {
    const held: { reader: net.Socket | null } = { reader: null };
    const stuck = await fakePeer((socket) => {
      held.reader = socket;
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n\r\n`);
      socket.pause();
    });
    // A peer that reads nothing writes nothing either; a long idle timeout keeps liveness out of this test.
    const one = make(1, [3], { maxQueued: 4, timing: { ...fast, idleTimeoutMs: 600_000 } });
    one.transport.syncPeers([{ id: 3, peerURL: `http://127.0.0.1:${stuck.port}` }]);
    await until(() => one.transport.streams().outgoing['3'] === 'open');
    let sent = 0;
    while (!one.unreachable.includes(3) && sent < 400) one.transport.send([bigAppend(1, 3, ++sent, 256 * 1024)]);
    expect(one.unreachable.includes(3)).toBe(true);
    const firstDropped = sent;
    // Every message after the first drop is dropped too while the socket stays full.
    for (let i = 0; i < 3; i++) one.transport.send([bigAppend(1, 3, ++sent, 16)]);
    expect(one.unreachable.filter((id) => id === 3)).toHaveLength(4);
    // The peer reads again: what it gets is exactly the messages before the first drop, in order.
    const decoder = new FrameDecoder(1 << 30);
    const got: number[] = [];
    held.reader?.on('data', (piece: Buffer) => {
      for (const m of decoder.push(piece)) got.push(m.entries[0]?.index ?? 0);
    });
    held.reader?.resume();
    await until(() => got.length === firstDropped - 1, 20_000);
    expect(got).toEqual(Array.from({ length: firstDropped - 1 }, (_, i) => i + 1));
  });

  test('a stream on which nothing arrives is closed and dialled again, and the peer reported unreachable', async () => {
    // Accepts the stream, then never writes: a paused process, or a partition that drops packets.
    const mute = await fakePeer((socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n\r\n`);
    });
    const one = make(1, [3]);
    one.transport.syncPeers([{ id: 3, peerURL: `http://127.0.0.1:${mute.port}` }]);
    await until(() => mute.upgrades() >= 3, 5000);
    expect(one.unreachable.includes(3)).toBe(true);
    // A peer that accepts and then says nothing may be paused or cut off, not gone.
    expect(one.gone).toEqual([]);
  });

  test('an accepted stream that goes silent is closed by the receiver', async () => {
    const five = make(5, [1]);
    const port = await five.transport.listen('127.0.0.1', 0);
    const { socket } = await dialStream(port, { [headers.clusterId]: clusterId, [headers.from]: '1', [headers.to]: '5' });
    if (socket === null) throw new Error('stream refused');
    sockets.push(socket);
    let keepalives = 0;
    socket.on('data', () => keepalives++);
    await new Promise((resolve) => socket.on('close', resolve));
    // It answered with keepalives while it waited.
    expect(keepalives).toBeGreaterThan(0);
    expect(five.transport.streams().incoming).toEqual([]);
  });

  test('a new stream from a peer replaces the old one, which delivers nothing more', async () => {
    const five = make(5, [1]);
    const port = await five.transport.listen('127.0.0.1', 0);
    const good = { [headers.clusterId]: clusterId, [headers.from]: '1', [headers.to]: '5' };
    const first = (await dialStream(port, good)).socket;
    const second = (await dialStream(port, good)).socket;
    if (first === null || second === null) throw new Error('stream refused');
    sockets.push(first, second);
    first.on('error', () => undefined);
    first.write(encodeFrames([heartbeat(1, 5, 1)]));
    second.write(encodeFrames([heartbeat(1, 5, 2)]));
    await until(() => five.delivered.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(five.delivered.map((m) => m.term)).toEqual([2]);
  });

  test('the peer port answers health checks with the state of every stream', async () => {
    const one = make(1, [2]);
    const two = make(2, [1]);
    const onePort = await one.transport.listen('127.0.0.1', 0);
    const twoPort = await two.transport.listen('127.0.0.1', 0);
    one.transport.syncPeers([{ id: 2, peerURL: `http://127.0.0.1:${twoPort}` }]);
    two.transport.syncPeers([{ id: 1, peerURL: `http://127.0.0.1:${onePort}` }]);
    await until(() => one.transport.streams().outgoing['2'] === 'open' && two.transport.streams().incoming.length === 1);
    const reply = await fetch(`http://127.0.0.1:${twoPort}/health`);
    expect(reply.status).toBe(200);
    const body = (await reply.json()) as { health: string; id: number; streams: { outgoing: Record<string, string>; incoming: number[] } };
    expect(body).toMatchObject({ health: 'ok', id: 2, clusterId, streams: { incoming: [1] } });
    expect(['open', 'dialing']).toContain(body.streams.outgoing['1']);
  });
});
