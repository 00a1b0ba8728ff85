// # Figure 16 of the Raft paper, on the simulator
//
// §9.3 of the paper measures how long a five-server cluster takes to notice that its leader crashed and to elect a
// new one, for several ranges of randomized election timeouts. Each trial here is that experiment on the simulated
// cluster of raft/rafttest/, running tsraft's own core:
//
// 1. Five founding voters; node 1 campaigns at once and leads. Heartbeats go out every half of the minimum
//    election timeout (the paper's heartbeat interval). Neither PreVote nor CheckQuorum: the paper's Raft has neither.
// 2. The logs are made unequal, so that some servers cannot win an election (§5.4.1): the leader replicates three
//    new entries while its appends to three of the followers are cut short, leaving the five logs at lengths n, n,
//    n-1, n-2 and n-3. Which follower lags by how much is drawn per trial.
// 3. The leader's next heartbeat is the paper's "synchronized broadcast"; the leader crashes at a moment drawn
//    uniformly from the heartbeat interval that follows it.
// 4. The trial ends when any server becomes leader. Its result is the simulated time from the crash to then.
//
// Time on the simulator's clock is kept in tenths of a millisecond, so that message delays and the nodes' tick
// phases are not all whole milliseconds; the core's tick is 1 ms.

import { Cluster } from '../../raft/rafttest/cluster';
import { NetworkFaults } from '../../raft/rafttest/network';
import { SeededRand } from '../../raft/rand';
import { Message, MessageType, NodeId, None } from '../../raft/types';

/** An election-timeout range of the figure, in milliseconds: timeouts are drawn uniformly from [lo, hi]. */
export interface TimeoutRange {
  lo: number;
  hi: number;
}

/** The conditions of the experiment that the paper states only roughly or not at all. */
export interface Conditions {
  servers: number;
  /** One-way network delay of each message, uniform in [minDelayMs, maxDelayMs]. */
  minDelayMs: number;
  maxDelayMs: number;
  /** The core's tick, in milliseconds. */
  tickMs: number;
  /** A trial that has no leader this long after the crash stops and counts as "more than this". */
  capMs: number;
  /** Run the core with PreVote (thesis §9.6); the paper's Raft has none. */
  preVote: boolean;
  /** Leave the logs unequal, as the paper does; false gives every member the whole log (a control). */
  unequalLogs: boolean;
}

/**
 * The defaults: a broadcast (a message to every server and all the answers back) of "roughly 15 ms", from one-way
 * delays uniform in [7, 8] ms: round trips of 14 to 16 ms. The paper gives no spread; docs/figure-16.md shows what a
 * wider one changes.
 */
export const paperConditions: Conditions = { servers: 5, minDelayMs: 7, maxDelayMs: 8, tickMs: 1, capMs: 10_000, preVote: false, unequalLogs: true };

/** What one trial measured. */
export interface TrialResult {
  /** Milliseconds from the crash to a new leader; `capMs` when `censored`. */
  ms: number;
  /** No leader emerged within `capMs`. */
  censored: boolean;
  /** Elections started after the crash (terms gone through), 1 when the first one succeeded. */
  elections: number;
}

// Simulated clock units per millisecond.
const unitsPerMs = 10;

/** One trial of the experiment for `range`, fully determined by `seed`. */
export function runTrial(range: TimeoutRange, seed: number, conditions: Conditions = paperConditions): TrialResult {
  const tickUnits = Math.round(conditions.tickMs * unitsPerMs);
  const electionTick = Math.round(range.lo / conditions.tickMs);
  const heartbeatTick = Math.max(1, Math.floor(electionTick / 2));
  const paperNetwork: NetworkFaults = {
    ...calmNetwork,
    minDelay: Math.round(conditions.minDelayMs * unitsPerMs),
    maxDelay: Math.round(conditions.maxDelayMs * unitsPerMs),
  };
  const cluster = new Cluster({
    seed,
    voters: conditions.servers,
    tickMs: tickUnits,
    maxReadyDelay: 1,
    traceLimit: 1,
    faults: calmNetwork,
    node: {
      electionTick,
      heartbeatTick,
      electionJitter: Math.round((range.hi - range.lo) / conditions.tickMs),
      preVote: conditions.preVote,
      checkQuorum: false,
    },
  });
  const rand = new SeededRand(seed ^ 0x5f16);

  // 1. A leader, on a fast network: the set-up is not what is measured.
  const first: NodeId = 1;
  cluster.campaign(first);
  if (!cluster.runUntil(() => cluster.leader() === first, 50 * electionTick)) {
    throw new Error(`Seed ${seed}: node ${first} did not become leader after campaigning`);
  }

  // 2. Unequal logs: follower k of a random order has every append cut k entries short, by any leader, for good.
  const followers = shuffle([...cluster.nodes.keys()].filter((id) => id !== first), rand);
  const base = cluster.node(first).storage.lastIndex();
  const newEntries = 3;
  const longestIndex = new Map<NodeId, number>();
  followers.forEach((id, k) => longestIndex.set(id, base + newEntries - (conditions.unequalLogs ? Math.min(k, newEntries) : 0)));
  const longest = base + newEntries;
  let measuring = false;
  let heartbeatFrom: NodeId = None;
  let heartbeatAt: number | null = null;
  cluster.network.intercept = (m: Message): Message | null => {
    if (m.type === MessageType.MsgHeartbeat && m.from === heartbeatFrom && heartbeatAt === null) heartbeatAt = cluster.now;
    const limit = longestIndex.get(m.to);
    if (m.type !== MessageType.MsgApp || limit === undefined || limit === longest) return m;
    // A lagging follower answers each heartbeat by showing the leader that it lags, and the leader sends appends
    // that would reset its election timer a round trip after everyone else's. While measuring, those appends are
    // lost: every follower last heard from the leader through the synchronized heartbeat alone.
    if (measuring) return null;
    return { ...m, entries: m.entries.filter((e) => e.index <= limit) };
  };
  for (let i = 0; i < newEntries; i++) cluster.propose(first);
  cluster.runFor(20 * unitsPerMs);

  // 3. The paper's network from here on. Wait for the leader's next heartbeat broadcast, then crash the leader
  // somewhere in the heartbeat interval after it. (With timeouts near the broadcast time, leadership may change
  // while we wait, as the paper warns; then the new leader's heartbeat counts.)
  cluster.network.faults = paperNetwork;
  measuring = true;
  let victim: NodeId = None;
  let crashAt = 0;
  while (victim === None) {
    heartbeatFrom = cluster.leader();
    heartbeatAt = null;
    const waitUntil = cluster.now + 100 * electionTick * tickUnits;
    while (heartbeatFrom !== None && heartbeatAt === null && cluster.now < waitUntil) {
      if (!cluster.step()) throw new Error(`Seed ${seed}: the simulation ran out of events before a heartbeat`);
    }
    if (heartbeatAt === null) {
      cluster.runFor(tickUnits);
      continue;
    }
    crashAt = Math.max(cluster.now, heartbeatAt + rand.intn(heartbeatTick * tickUnits));
    cluster.runFor(crashAt - cluster.now);
    if (cluster.leader() === heartbeatFrom) victim = heartbeatFrom;
  }
  cluster.crash(victim);
  const termAtCrash = highestTerm(cluster);

  // 4. Until a new leader.
  const deadline = crashAt + conditions.capMs * unitsPerMs;
  while (cluster.leader() === None) {
    if (cluster.now > deadline || !cluster.step()) {
      return { ms: conditions.capMs, censored: true, elections: highestTerm(cluster) - termAtCrash };
    }
  }
  return { ms: (cluster.now - crashAt) / unitsPerMs, censored: false, elections: highestTerm(cluster) - termAtCrash };
}

// Delays of 0.1 to 0.5 ms, nothing lost: the network of the set-up.
const calmNetwork: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  minDelay: 1,
  maxDelay: 5,
  longDelayRate: 0,
  longDelay: 0,
  fifo: true,
};

function highestTerm(cluster: Cluster): number {
  return Math.max(...[...cluster.nodes.values()].map((n) => n.hardState.term));
}

function shuffle<T>(items: T[], rand: SeededRand): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rand.intn(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
