// # Ports bound before the member is ready
//
// A member restarting from its data directory takes a few hundred milliseconds before it can answer anything:
// Node starts, the modules load, the WAL and the newest snapshot are read and the log replayed. If its ports were
// bound only after all that, every client and every peer that tried it meanwhile would be refused and go away, and
// the peers' streams would back off before they dialled again. etcd binds its listeners before it opens its data, so
// that what arrives while it starts waits in the accept queue and is served once it is up.
//
// `tsraft serve` does the same: it binds both ports with these servers before it loads the rest of the member, and
// the member then takes them over (`serve`), answering every request and stream upgrade that waited, in the order
// they arrived. A member that cannot start closes them (`close`), and what waited is disconnected, as it would be
// by a crash.

import http from 'node:http';
import { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { KvError } from './errors';

/** The client port's server settings (headers up to 64 KiB), wherever it is created. */
const clientServerOptions: http.ServerOptions = { maxHeaderSize: 64 * 1024 };

/** The origin of an `http://host:port` URL given as `what` (a flag's name), or a KvError saying what is wrong. */
export function originOf(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KvError('BadRequest', `${what} is not a URL: "${text}"`);
  }
  if (url.protocol !== 'http:' || url.port === '') throw new KvError('BadRequest', `${what} must be http://host:port, not "${text}"`);
  return url.origin;
}

/** Answers a stream upgrade (the peer transport's streams). */
export type UpgradeListener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

type Held = { kind: 'request'; req: http.IncomingMessage; res: http.ServerResponse } | { kind: 'upgrade'; req: http.IncomingMessage; socket: Duplex; head: Buffer };

/** An HTTP server bound early: it holds what arrives until `serve` gives it its handlers. */
export class EarlyServer {
  // Invariant: empty once `serve` has run; everything held is answered by the handlers then.
  private held: Held[] = [];
  private onRequest: http.RequestListener | null = null;
  private onUpgrade: UpgradeListener | null = null;

  private constructor(readonly server: http.Server) {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (this.onRequest !== null) this.onRequest(req, res);
      else this.held.push({ kind: 'request', req, res });
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.onUpgrade !== null) this.onUpgrade(req, socket, head);
      else if (this.onRequest === null) this.held.push({ kind: 'upgrade', req, socket, head });
      else socket.destroy();
    });
  }

  /** Binds `url` (an origin, http://host:port); rejects naming the address when it cannot, as when the port is taken. */
  static listen(url: string, options: http.ServerOptions = {}): Promise<EarlyServer> {
    const { hostname, port } = new URL(url);
    const server = http.createServer(options);
    server.keepAliveTimeout = 60_000;
    return new Promise<EarlyServer>((resolve, reject) => {
      server.once('error', (err) => reject(new KvError('BadRequest', `Cannot listen on ${url}: ${err.message}`)));
      server.listen(Number(port), hostname.replace(/^\[(.*)\]$/, '$1'), () => resolve(new EarlyServer(server)));
    });
  }

  /** The port bound. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** How many requests and upgrades are waiting for `serve`. */
  get waiting(): number {
    return this.held.length;
  }

  /**
   * Installs the member's handlers and answers what waited, oldest first. A request whose client has gone meanwhile
   * (it gave up waiting) is dropped rather than carried out: that client already counts its write as of unknown
   * outcome, and nobody would read the answer. Without `onUpgrade`, upgrades are refused.
   */
  serve(onRequest: http.RequestListener, onUpgrade?: UpgradeListener): void {
    this.onRequest = onRequest;
    this.onUpgrade = onUpgrade ?? null;
    const held = this.held;
    this.held = [];
    for (const h of held) {
      if (h.kind === 'request') {
        if (!h.req.socket.destroyed) onRequest(h.req, h.res);
      } else if (onUpgrade !== undefined && !h.socket.destroyed) {
        onUpgrade(h.req, h.socket, h.head);
      } else {
        h.socket.destroy();
      }
    }
  }

  /** Stops listening and drops every connection, whatever waited on it. */
  close(): Promise<void> {
    for (const h of this.held) (h.kind === 'request' ? h.req.socket : h.socket).destroy();
    this.held = [];
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** A member's two ports, bound early. */
export interface MemberPorts {
  client: EarlyServer;
  peer: EarlyServer;
}

/**
 * Binds a member's client and peer ports (`http://host:port` URLs, named by their flags in errors). When the peer port
 * cannot be bound, the client port is let go again.
 */
export async function bindMemberPorts(listenClient: string, listenPeer: string): Promise<MemberPorts> {
  const client = await EarlyServer.listen(originOf(listenClient, '--listen-client'), clientServerOptions);
  try {
    return { client, peer: await EarlyServer.listen(originOf(listenPeer, '--listen-peer')) };
  } catch (err) {
    await client.close();
    throw err;
  }
}
