// # Starting a member
//
// One function turns command-line options into a running member, in one of three ways:
//
// - the data directory holds a WAL: restart from it. The identity (member ID, cluster ID) and everything else
//   come from the snapshot and the WAL; `--initial-cluster` and `--join` are ignored, so the same command works
//   for the first start and every restart, in any order of the members.
// - `--initial-cluster`: a brand-new cluster. Every founding member bootstraps the same configuration, whose
//   ConfChange entries carry the peer URLs.
// - `--join <client URL>`: ask a running member to add this one (POST /members), then start with an empty log;
//   the leader brings it up to date with entries or a snapshot.

import crypto from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Logger } from '../raft/logger';
import { NodeId, None } from '../raft/types';
import { Transport } from '../transport/transport';
import { clientHandler } from './hotpath';
import { CommandOp, encodeLeaseValue } from './command';
import { createDisk, diskExists, openDisk } from './disk';
import { MemberPorts, bindMemberPorts, originOf } from './early-listen';
import { KvError } from './errors';
import { Lessor, minLeaseTtlSeconds } from './lessor';
import { Member, Membership, encodeMemberContext } from './members';
import { RaftNode } from './node';

/** What `tsraft serve` was given. */
export interface ServeOptions {
  /** Required for `initialCluster`; chosen by the cluster on join when absent; read from disk on restart. */
  id?: NodeId;
  dataDir: string;
  /** e.g. http://127.0.0.1:2379; also the address other members and clients are told unless `advertiseClient` is given. */
  listenClient: string;
  /** e.g. http://127.0.0.1:2380; also the address other members are told unless `advertisePeer` is given. */
  listenPeer: string;
  /** The peer URL recorded in the membership, when peers reach this member by another address (NAT, a proxy). */
  advertisePeer?: string;
  /** The client URL announced to the cluster, when clients reach this member by another address. */
  advertiseClient?: string;
  /** `1=http://127.0.0.1:2380,2=...` */
  initialCluster?: string;
  /** The client URL of a running member. */
  join?: string;
  /** Defaults to a hash of the initial cluster. */
  clusterId?: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotCount: number;
  snapshotCatchup: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  requestTimeoutMs: number;
  /**
   * How long a write or read may wait for a reachable leader; unless given, half the election timeout or half the
   * request timeout, whichever is shorter (so a request that finds no leader says so rather than timing out).
   */
  leaderWaitMs?: number;
  /**
   * The client and peer ports, already bound (`tsraft serve` binds them before it even loads the member); bound at
   * once when absent. Either way they belong to the member from then on, and are closed if it cannot start.
   */
  servers?: MemberPorts;
  /** The logger of member `id` (0 while the ID is not yet known, before a join). */
  loggerFor(id: NodeId): Logger;
}

export { serveDefaults } from './defaults';

/** A running member. */
export interface RunningMember {
  id: NodeId;
  clusterId: string;
  node: RaftNode;
  /** Resolves once the member has stopped: why, and whether it was a failure rather than a removal or `stop()`. */
  stopped: Promise<{ reason: string; failed: boolean }>;
  stop(reason?: string, failed?: boolean): Promise<void>;
}

/** Parses `1=http://a:2380,2=http://b:2380`. */
export function parseInitialCluster(text: string): Member[] {
  const members: Member[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([0-9]+)=(.+)$/.exec(part);
    const id = Number(m?.[1]);
    if (m === null || !Number.isSafeInteger(id) || id < 1) throw new KvError('BadRequest', `Initial cluster entry "${part}" is not ID=URL`);
    if (members.some((x) => x.id === id)) throw new KvError('BadRequest', `Initial cluster names member ${id} twice`);
    members.push({ id, peerURL: originOf(m[2] ?? '', 'initial cluster URL'), clientURL: '', learner: false });
  }
  if (members.length === 0) throw new KvError('BadRequest', 'Initial cluster is empty');
  return members;
}

/** Starts a member as the options and the data directory say. */
export async function serve(opts: ServeOptions): Promise<RunningMember> {
  // Both ports first, before anything is read or created (kvstore/early-listen.ts): a first start that could not
  // listen would otherwise leave a data directory whose member never wrote its bootstrap entries, and what reaches a
  // restarting member waits for it instead of being refused.
  const servers = opts.servers ?? (await bindMemberPorts(opts.listenClient, opts.listenPeer));
  try {
    return await startOn(opts, servers);
  } catch (err) {
    // A member that cannot start lets go of its ports, and whatever waited on them is disconnected.
    await Promise.all([servers.client.close(), servers.peer.close()]);
    throw err;
  }
}

async function startOn(opts: ServeOptions, servers: MemberPorts): Promise<RunningMember> {
  // Listen on one address, tell the cluster another (as etcd's --listen-peer-urls and
  // --initial-advertise-peer-urls): the membership stores the advertised URLs, the sockets bind the listen URLs.
  const listenClientURL = originOf(opts.listenClient, '--listen-client');
  const listenPeerURL = originOf(opts.listenPeer, '--listen-peer');
  const clientURL = opts.advertiseClient === undefined ? listenClientURL : originOf(opts.advertiseClient, '--advertise-client');
  const peerURL = opts.advertisePeer === undefined ? listenPeerURL : originOf(opts.advertisePeer, '--advertise-peer');
  if (!Number.isSafeInteger(opts.snapshotCount) || opts.snapshotCount < 1) {
    throw new KvError('BadRequest', `--snapshot-count must be a whole number of entries, at least 1, not ${opts.snapshotCount}`);
  }
  let log = opts.loggerFor(opts.id ?? 0);

  let id: NodeId;
  let clusterId: string;
  let opened: ReturnType<typeof openDisk>['start'];
  if (diskExists(opts.dataDir)) {
    const disk = openDisk(opts.dataDir, log);
    if (opts.id !== undefined && opts.id !== disk.meta.id) {
      disk.start.persistence.close();
      throw new KvError('BadRequest', `Data directory ${opts.dataDir} belongs to member ${disk.meta.id}, not ${opts.id}`);
    }
    ({ id, clusterId } = disk.meta);
    opened = disk.start;
    log = opts.loggerFor(id);
    const { hardState } = opened.storage.initialState();
    log.info(
      `restarting member ${id} of cluster ${clusterId} from ${opts.dataDir}: snapshot at ${opened.snapshot.metadata.index}, ` +
        `log to ${opened.storage.lastIndex()}, term ${hardState.term}, commit ${hardState.commit}`,
    );
  } else if (opts.initialCluster !== undefined && opts.initialCluster !== '') {
    const initial = parseInitialCluster(opts.initialCluster);
    if (opts.id === undefined) throw new KvError('BadRequest', '--id is required with --initial-cluster');
    const self = initial.find((m) => m.id === opts.id);
    if (self === undefined) throw new KvError('BadRequest', `Member ${opts.id} is not in the initial cluster`);
    if (self.peerURL !== peerURL) {
      const flag = opts.advertisePeer === undefined ? '--listen-peer' : '--advertise-peer';
      throw new KvError('BadRequest', `Initial cluster gives member ${opts.id} peer URL ${self.peerURL}, but ${flag} is ${peerURL}`);
    }
    id = opts.id;
    clusterId = normalClusterId(opts.clusterId ?? clusterIdOf(initial));
    opened = createDisk(opts.dataDir, { id, clusterId, members: initial }, log);
    // Every founding member must bootstrap byte-identical entries 1..n, so the contexts hold peer URLs only; each
    // member announces its client URL afterwards (publishClientURL).
    opened.bootstrap = initial.map((m) => ({ id: m.id, context: encodeMemberContext({ peerURL: m.peerURL, clientURL: '' }) }));
    log.info(`starting member ${id} of new cluster ${clusterId} with ${initial.length} members`);
  } else if (opts.join !== undefined && opts.join !== '') {
    const joined = await askToJoin(opts.join, peerURL, clientURL, opts.id, log);
    id = joined.id;
    clusterId = joined.clusterId;
    opened = createDisk(opts.dataDir, { id, clusterId, members: joined.members }, log);
    log.info(`joined cluster ${clusterId} as member ${id}`);
  } else {
    throw new KvError('BadRequest', `Data directory ${opts.dataDir} holds no member: give --initial-cluster or --join`);
  }

  log = opts.loggerFor(id);
  let node: RaftNode | null = null;
  let resolveStopped: (outcome: { reason: string; failed: boolean }) => void = () => undefined;
  const stopped = new Promise<{ reason: string; failed: boolean }>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | null = null;

  const transport = new Transport({
    localId: id,
    clusterId,
    logger: log,
    memberStatus: (from) => {
      if (opened.members.has(from)) return 'member';
      return opened.members.isRemoved(from) ? 'removed' : 'unknown';
    },
    deliver: (msgs) => node?.deliver(msgs),
    reportUnreachable: (peer) => node?.reportUnreachable(peer),
    reportGone: (peer) => node?.reportGone(peer),
    reportReachable: () => node?.reportReachable(),
    reportSnapshot: (peer, ok) => node?.reportSnapshot(peer, ok),
    onRemoved: () => void stop('a peer reports this member was removed from the cluster'),
  });

  const raftNode = new RaftNode(
    {
      id,
      tickMs: opts.tickMs,
      electionTicks: opts.electionTicks,
      heartbeatTicks: opts.heartbeatTicks,
      snapshotCount: opts.snapshotCount,
      snapshotCatchup: opts.snapshotCatchup,
      requestTimeoutMs: opts.requestTimeoutMs,
      leaderWaitMs: opts.leaderWaitMs ?? Math.round(Math.min(opts.electionTicks * opts.tickMs, opts.requestTimeoutMs) / 2),
      logger: log,
    },
    opened,
    {
      onPeersChanged: (members) => transport.syncPeers(members.list()),
      send: (msgs) => transport.send(msgs),
      peerReachable: (peer) => transport.isReachable(peer),
      peerCounters: () => transport.counters(),
      onStopped: (reason, failed) => void stop(reason, failed),
    },
  );
  node = raftNode;

  // Only the leader expires leases, by its own clock, through the log (kvstore/lessor.ts).
  const lessor = new Lessor(
    {
      leaderTerm: () => raftNode.leaderTerm(),
      lease: (leaseId) => raftNode.kv.lease(leaseId),
      leases: () => raftNode.kv.leases(),
      proposeExpiry: (leaseId, term) => raftNode.propose(CommandOp.LeaseRevoke, '', encodeLeaseValue({ id: leaseId, expiredInTerm: term })),
    },
    { minTtlSeconds: minLeaseTtlSeconds(opts.tickMs, opts.electionTicks), checkIntervalMs: opts.tickMs, retryMs: 1000, maxRevokesPerCheck: 100 },
  );

  // The express app answers everything but the plain single-key requests (kvstore/hotpath.ts). Loading express is
  // most of the CPU a member spends before it can serve, so a restarting member loads it on the first request that
  // needs it rather than before it serves its first read or write.
  let app: http.RequestListener | undefined;
  const fullApi: http.RequestListener = (req, res) => {
    if (app === undefined) log.debug(`loading the full client API for ${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
    app ??= (require('./api') as typeof import('./api')).clientApp(raftNode, {
      clusterId,
      maxKeyBytes: opts.maxKeyBytes,
      maxValueBytes: opts.maxValueBytes,
      maxListLimit: 10_000,
      lessor,
      forwardTimeoutMs: opts.requestTimeoutMs,
    });
    app(req, res);
  };
  const peerHandlers = transport.handlers();
  servers.peer.serve(peerHandlers.request, peerHandlers.upgrade);
  transport.adopt(servers.peer.server);
  servers.client.serve(clientHandler(raftNode, clusterId, opts, fullApi));
  const api = servers.client.server;
  raftNode.start();
  lessor.start();
  log.info(
    `serving clients on ${listenClientURL} (port ${(api.address() as AddressInfo).port}) and peers on ${listenPeerURL}` +
      (clientURL !== listenClientURL || peerURL !== listenPeerURL ? `, advertising ${clientURL} and ${peerURL}` : ''),
  );
  void publishClientURL(raftNode, clientURL, opts.tickMs, log);
  void advanceElectionClock(raftNode, transport, opts.electionTicks, opts.tickMs, log);

  function stop(reason = 'stopped', failed = false): Promise<void> {
    if (stopping !== null) return stopping;
    stopping = (async () => {
      log.info(`stopping: ${reason}`);
      lessor.stop();
      raftNode.stop();
      // Let the answer to the request that removed this member leave before the sockets close.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await transport.stop();
      await new Promise<void>((resolve) => {
        api.close(() => resolve());
        api.closeAllConnections();
      });
      resolveStopped({ reason, failed });
    })();
    return stopping;
  }

  return { id, clusterId, node: raftNode, stopped, stop };
}

// The founding members know each other's peer URLs only; each announces its own client URL once, through the log,
// so clients asking any member for the leader's address get one. A normal entry rather than a ConfChange, so the
// announcements of several members need not wait for one another.
async function publishClientURL(node: RaftNode, clientURL: string, retryMs: number, log: Logger): Promise<void> {
  while (!node.isStopped) {
    const self = node.members.get(node.id);
    if (self === undefined || self.clientURL === clientURL) return;
    try {
      if (node.leaderId !== None) {
        await node.propose(CommandOp.PublishClientURL, String(node.id), Buffer.from(clientURL, 'utf8'));
        return;
      }
    } catch (err) {
      log.debug(`publishing the client URL failed, retrying: ${err instanceof Error ? err.message : String(err)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

// A starting member need not wait a whole election timeout before its first election can begin (§5.2): once it can
// reach enough peers to form a quorum with (its outgoing streams are open), it moves its clock to one tick short of
// the timeout's lower bound (RaftNode.advanceTicks; etcd's server advances a starting member's clock by the same
// amount): what is left to wait is one tick plus the randomised part of the timeout. A live leader's next
// heartbeat resets the clock; if the member campaigns first, PreVote and the others' leader lease turn it down.
// Alone in its configuration it is a quorum by itself, and its clock moves to the end of the longest randomised
// timeout, so it campaigns on the spot. The voters are read from the applied membership, which a member
// restarting before its first snapshot learns only as its first turns apply the configuration entries of its log:
// it waits for those (for everything committed before it started, `RaftNode.replayed`) and then looks. It waits for
// its peers at most as long as a stream takes to be declared dead, then lets the clock run.
async function advanceElectionClock(node: RaftNode, transport: Transport, electionTicks: number, tickMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + Math.max(2_000, electionTicks * tickMs);
  while (!node.isStopped && Date.now() < deadline && node.leaderId === None) {
    // Until the committed configuration is applied, the core may not count itself a voter and ticks are lost on it.
    if (!node.replayed) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    const voters = node.members.list().filter((m) => !m.learner);
    if (voters.length === 1 && voters[0]?.id === node.id) {
      node.advanceTicks(2 * electionTicks);
      return;
    }
    if (voters.some((m) => m.id === node.id)) {
      const open = Object.entries(transport.streams().outgoing).filter(([id, state]) => state === 'open' && voters.some((m) => String(m.id) === id)).length;
      if (open + 1 >= Math.floor(voters.length / 2) + 1) {
        node.advanceTicks(Math.max(0, electionTicks - 1));
        log.info(`advanced the election clock by ${Math.max(0, electionTicks - 1)} ticks: ${open + 1} of ${voters.length} voters reachable`);
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function askToJoin(joinURL: string, peerURL: string, clientURL: string, id: NodeId | undefined, log: Logger): Promise<{ id: NodeId; clusterId: string; members: Member[] }> {
  log.info(`asking ${joinURL} to add this member (peer URL ${peerURL})`);
  // Loaded here, as only a joining member needs it: a restart should not pay for loading the client.
  const { KvClient } = require('./client') as typeof import('./client');
  const client = new KvClient(joinURL.split(','), { timeoutMs: 30_000 });
  const reply = await client.addMember(peerURL, { clientURL, ...(id === undefined ? {} : { id }) });
  if (typeof reply !== 'object' || reply === null) throw new KvError('Internal', 'Join reply is not an object');
  const newId: unknown = Reflect.get(reply, 'id');
  const clusterId: unknown = Reflect.get(reply, 'clusterId');
  const members: unknown = Reflect.get(reply, 'members');
  if (typeof newId !== 'number' || typeof clusterId !== 'string' || !Array.isArray(members)) {
    throw new KvError('Internal', 'Join reply lacks id, clusterId or members');
  }
  const registry = new Membership();
  registry.restore({ members: members as Member[], removed: [] });
  return { id: newId, clusterId, members: registry.list() };
}

// 48 bits of a hash of the founding members: the WAL stores the cluster ID as a number, which must stay exact.
function clusterIdOf(members: Member[]): string {
  const text = members.map((m) => `${m.id}=${m.peerURL}`).sort().join(',');
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function normalClusterId(text: string): string {
  if (!/^[0-9a-fA-F]{1,12}$/.test(text) || Number.parseInt(text, 16) === 0) {
    throw new KvError('BadRequest', `Cluster ID must be 1 to 12 hexadecimal digits, not zero, not "${text}"`);
  }
  return Number.parseInt(text, 16).toString(16);
}

