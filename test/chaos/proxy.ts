// # Per-link TCP proxies
//
// Every member listens for peers on a private port and advertises (`--advertise-peer`) the port of a proxy in
// front of it, so the peer URL stored in the replicated membership leads every other member through that proxy.
// One proxy per destination is enough to control every directed link, members added later through the API
// included: the proxy learns the source of a connection from the `x-tsraft-from` header of the first HTTP request
// it carries (each sender keeps its own connections, so every byte on a connection goes from one member to one
// other). The proxy forwards bytes, not requests, so it carries a long-lived streaming request body as well as a
// batch per request.
//
// What a link fault means here:
// - cut (`blocked`): the connection stays open and swallows everything in both directions, like packets dropped by
//   a firewall: the sender learns nothing until its own timeout. Healing the link destroys the swallowed
//   connections so the sender reconnects at once. A one-way partition cuts `from -> to` only: the messages
//   `from` sends are lost; those `to` sends travel on `to`'s own connection to `from` and get through.
// - delay: every chunk is held `delayMs` (plus up to `jitterMs`), order preserved.
// - drop: each chunk the source sends resets the connection with probability `dropRate`, losing whatever was in
//   flight on it (TCP never loses bytes in the middle of a stream, so a lost message is a lost connection).

import net from 'node:net';

/** The state of one directed link. */
export interface LinkState {
  blocked: boolean;
  delayMs: number;
  jitterMs: number;
  dropRate: number;
}

const healthy: LinkState = { blocked: false, delayMs: 0, jitterMs: 0, dropRate: 0 };

/** The fault table every proxy consults: directed links by (from, to) member IDs. */
export class Links {
  private readonly states = new Map<string, LinkState>();
  private readonly listeners = new Set<(from: number, to: number) => void>();

  constructor(private readonly random: () => number) {}

  get(from: number, to: number): LinkState {
    return this.states.get(`${from}>${to}`) ?? healthy;
  }

  set(from: number, to: number, change: Partial<LinkState>): void {
    this.states.set(`${from}>${to}`, { ...this.get(from, to), ...change });
    for (const l of this.listeners) l(from, to);
  }

  /** Every link back to healthy. */
  healAll(): void {
    const keys = [...this.states.keys()];
    this.states.clear();
    for (const k of keys) {
      const [from, to] = k.split('>').map(Number);
      for (const l of this.listeners) l(from ?? 0, to ?? 0);
    }
  }

  /** Links that are not healthy, for the log. */
  describe(): string {
    return [...this.states.entries()]
      .filter(([, s]) => s.blocked || s.delayMs > 0 || s.dropRate > 0)
      .map(([k, s]) => `${k}${s.blocked ? ' cut' : ''}${s.delayMs > 0 ? ` +${s.delayMs}ms` : ''}${s.dropRate > 0 ? ` drop ${s.dropRate}` : ''}`)
      .join(', ');
  }

  onChange(listener: (from: number, to: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  roll(): number {
    return this.random();
  }
}

interface Connection {
  from: number;
  downstream: net.Socket;
  upstream: net.Socket | null;
  // When the last chunk in each direction is due, so delayed chunks keep their order.
  dueUp: number;
  dueDown: number;
  // Whether a cut link swallowed bytes of this connection: it must not carry anything once the link heals.
  swallowed: boolean;
}

const fromHeader = /\r\nx-tsraft-from:\s*([0-9]+)\r\n/i;
const maxHeaderBytes = 64 * 1024;

/**
 * A TCP proxy in front of member `to`'s peer port. While the member's process is not running the proxy does not
 * listen either, so a dial is refused as it is at a dead process's port (members take a refusal from their
 * leader's address as its death, kvstore/node.ts); a cut link into a dead member refuses too, as a firewall that
 * rejects rather than drops would.
 */
export class PeerProxy {
  private server: net.Server | null = null;
  private port = 0;
  // Every change of the listener, in the order asked: a reopening waits for the closing before it. A change that
  // failed (reported to its caller) does not stop the ones after it.
  private changes: Promise<void> = Promise.resolve();
  private readonly connections = new Set<Connection>();
  private readonly unsubscribe: () => void;
  /** Connections accepted, and connections reset by the drop fault (for the run's summary). */
  accepted = 0;
  resets = 0;

  constructor(
    readonly to: number,
    private readonly targetPort: number,
    private readonly links: Links,
  ) {
    this.unsubscribe = links.onChange((from, to) => {
      if (to !== this.to) return;
      // A healed cut: destroy what was swallowed so the sender reconnects now, not after its timeout.
      if (!links.get(from, to).blocked) {
        for (const c of [...this.connections]) if (c.from === from && c.swallowed) this.drop(c);
      }
    });
  }

  /** Listens on `port` (0: any); resolves with the port. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.server = server;
        const address = server.address();
        this.port = typeof address === 'object' && address !== null ? address.port : 0;
        resolve(this.port);
      });
    });
  }

  /** The member's process is gone: stop listening, so dials are refused, and reset what is open. */
  refuse(): Promise<void> {
    this.changes = this.changes.catch(() => undefined).then(() => this.stopListening());
    return this.changes;
  }

  /** The member's process is starting: listen again on the same port. */
  reopen(): Promise<void> {
    this.changes = this.changes.catch(() => undefined).then(async () => {
      if (this.server === null) await this.listen(this.port);
    });
    return this.changes;
  }

  /** Destroys every connection (e.g. the member behind the proxy was killed). */
  resetAll(): void {
    for (const c of [...this.connections]) this.drop(c);
  }

  /** Stops listening and destroys every connection, for good. */
  close(): Promise<void> {
    this.unsubscribe();
    this.changes = this.changes.catch(() => undefined).then(() => this.stopListening());
    return this.changes;
  }

  private stopListening(): Promise<void> {
    this.resetAll();
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private drop(c: Connection): void {
    c.downstream.destroy();
    c.upstream?.destroy();
    this.connections.delete(c);
  }

  private accept(downstream: net.Socket): void {
    this.accepted++;
    downstream.setNoDelay(true);
    downstream.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0 && head.length < maxHeaderBytes) return;
      downstream.off('data', onData);
      downstream.pause();
      const m = fromHeader.exec(text.slice(0, end < 0 ? text.length : end + 2));
      this.open(downstream, Number(m?.[1] ?? 0), head);
    };
    downstream.on('data', onData);
  }

  private open(downstream: net.Socket, from: number, head: Buffer): void {
    const c: Connection = { from, downstream, upstream: null, dueUp: 0, dueDown: 0, swallowed: false };
    this.connections.add(c);
    downstream.once('close', () => this.drop(c));
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    c.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined);
    upstream.once('close', () => this.drop(c));
    upstream.once('connect', () => {
      this.forward(c, head, 'up');
      downstream.on('data', (chunk: Buffer) => this.forward(c, chunk, 'up'));
      upstream.on('data', (chunk: Buffer) => this.forward(c, chunk, 'down'));
      downstream.resume();
    });
  }

  private forward(c: Connection, chunk: Buffer, direction: 'up' | 'down'): void {
    const link = this.links.get(c.from, this.to);
    if (link.blocked) {
      c.swallowed = true;
      return;
    }
    if (direction === 'up' && link.dropRate > 0 && this.links.roll() < link.dropRate) {
      this.resets++;
      this.drop(c);
      return;
    }
    const target = direction === 'up' ? c.upstream : c.downstream;
    if (target === null) return;
    if (link.delayMs === 0 && link.jitterMs === 0) {
      target.write(chunk);
      return;
    }
    const now = Date.now();
    const previous = direction === 'up' ? c.dueUp : c.dueDown;
    const due = Math.max(previous, now + link.delayMs + Math.floor(this.links.roll() * link.jitterMs));
    if (direction === 'up') c.dueUp = due;
    else c.dueDown = due;
    setTimeout(() => {
      if (!target.destroyed) target.write(chunk);
    }, due - now);
  }
}
