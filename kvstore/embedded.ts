// # A member inside your process
//
// `startMember` runs the same member `tsraft serve` runs (kvstore/serve.ts: data directory, WAL, peer transport,
// client API) inside the calling process, for an application that wants a replicated store without a separate
// server. The handle it returns is a client whose endpoint is this member, so every operation of the client
// (put, get, del, list, status, members, ...) is there with the same meaning, answers and errors; reads and writes
// go through the member's own API, so a write to a follower is forwarded to the leader exactly as for a remote
// client. `stop()` closes the member; the data directory keeps everything for the next start.

import { NodeId } from '../raft/types';
import { ClientOptions, KvClient } from './client';
import { LogLevel, nodeLogger } from './logger';
import { Logger } from '../raft/logger';
import { ServeOptions, serve, serveDefaults } from './serve';

/** What `startMember` needs: where the data lives, the two addresses, and how to find or found the cluster. */
export interface StartMemberOptions extends Partial<Omit<ServeOptions, 'dataDir' | 'listenClient' | 'listenPeer' | 'loggerFor'>> {
  /** Holds the WAL and snapshots; a directory with a member in it restarts that member. */
  dataDir: string;
  /** Client API address, e.g. http://127.0.0.1:2379. */
  listenClient: string;
  /** Peer transport address, e.g. http://127.0.0.1:2380. */
  listenPeer: string;
  /** Least severe level logged (default `warning`); ignored when `loggerFor` is given. */
  logLevel?: LogLevel;
  /** The logger of member `id`; by default lines go to standard error. */
  loggerFor?: (id: NodeId) => Logger;
  /** Options of the handle's client side (its time budget per call). */
  client?: ClientOptions;
}

/** A running embedded member: a client of itself, plus its identity and `stop()`. */
export class EmbeddedMember extends KvClient {
  /** This member's ID. */
  readonly id: NodeId;
  /** The cluster's ID (hexadecimal). */
  readonly clusterId: string;
  /** The client URL this member listens on; give it to a `Client` in another process. */
  readonly clientURL: string;
  /** Resolves once the member has stopped: why, and whether it failed (rather than being stopped or removed). */
  readonly stopped: Promise<{ reason: string; failed: boolean }>;
  private readonly stopMember: (reason?: string) => Promise<void>;

  /** @internal Use `startMember`. */
  constructor(running: { id: NodeId; clusterId: string; stopped: Promise<{ reason: string; failed: boolean }>; stop(reason?: string): Promise<void> }, clientURL: string, opts: ClientOptions) {
    super([clientURL], opts);
    this.id = running.id;
    this.clusterId = running.clusterId;
    this.clientURL = clientURL;
    this.stopped = running.stopped;
    this.stopMember = (reason) => running.stop(reason);
  }

  /** Stops the member and closes its ports; resolves when it is down. */
  async stop(reason = 'stopped by the application'): Promise<void> {
    await this.stopMember(reason);
  }
}

/** Starts (or restarts, when `dataDir` holds one) a member in this process. */
export async function startMember(opts: StartMemberOptions): Promise<EmbeddedMember> {
  const { logLevel, loggerFor, client, ...given } = opts;
  const running = await serve({
    ...serveDefaults,
    ...given,
    loggerFor: loggerFor ?? ((id) => nodeLogger(id, logLevel ?? 'warning', (line) => process.stderr.write(`${line}\n`))),
  });
  return new EmbeddedMember(running, new URL(opts.listenClient).origin, client ?? {});
}
