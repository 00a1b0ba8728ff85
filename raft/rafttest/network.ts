// # A deterministic, unreliable network
//
// Raft promises safety on a network that "may delay, drop, duplicate or reorder messages" (§5.1, §5.5) and
// liveness only once messages get through in time. This network does all four on purpose, and splits the cluster
// into partitions, with every choice drawn from the simulation's seeded generator: the same seed always loses the
// same messages.
//
// Messages travel encoded in raftpb's wire format, as they would between machines: each copy that arrives is a
// fresh object, so neither the sender nor a duplicate can see what the receiver does to it.
//
// A message is judged when it is sent (drop, duplicate, delay) and again when it arrives (a partition raised while
// it was in flight cuts it, as a broken link would). Reordering is the natural result of independent delays, plus
// an occasional long delay that lets a message overtake many later ones.

import { decodeMessage, encodeMessage } from '../codec';
import { SeededRand } from '../rand';
import { Message, MessageType, NodeId } from '../types';
import { EventQueue } from './schedule';

/** How unreliable the network is. Rates are probabilities in [0, 1]; delays are in simulated milliseconds. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicateRate: number;
  /** Shortest delay of a delivered message. */
  minDelay: number;
  /** Longest ordinary delay of a delivered message. */
  maxDelay: number;
  /** Probability that a message is held back by up to `longDelay` more, overtaken by later messages. */
  longDelayRate: number;
  longDelay: number;
  /** Keep each link's messages in order, as one TCP connection would; reordering then comes only from resends. */
  fifo: boolean;
}

/** A network that never loses, copies or reorders a message: a delay of 1 to 5 ms, in order on each link. */
export function reliableFaults(): NetworkFaults {
  return { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 5, longDelayRate: 0, longDelay: 0, fifo: true };
}

/** What happened to messages, for tests that bound message counts and for the trace summary. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  /** Lost to `dropRate` or to `intercept`. */
  dropped: number;
  /** Cut by a partition, at sending or on arrival. */
  cut: number;
  duplicated: number;
  /** Messages sent, by type. */
  sentByType: Map<MessageType, number>;
  /** MsgAppResp messages sent with `reject` set: each is one round trip of log backtracking (end of §5.3). */
  appRejections: number;
}

/** A message waiting to arrive. */
export interface InFlight {
  /** Names this copy among those in flight, and again in a replay of the same run: see `drop()`. */
  id: number;
  /** When it was sent and when it arrives, in simulated milliseconds. */
  sentAt: number;
  at: number;
  message: Message;
}

// A copy on the wire: the encoded message and when it left.
interface WireCopy {
  wire: Uint8Array;
  sentAt: number;
}

/** What arrived: either a message to step, or a message a partition cut on the way. */
export interface Arrival {
  message: Message;
  cut: boolean;
}

function newStats(): NetworkStats {
  return { sent: 0, delivered: 0, dropped: 0, cut: 0, duplicated: 0, sentByType: new Map(), appRejections: 0 };
}

/** The messages between simulated nodes, in flight and in their partitions. */
export class Network {
  /** The current fault model; tests and the chaos driver change it between steps. */
  faults: NetworkFaults;
  /**
   * When set, every message sent passes through it first: it returns the message to send (possibly a trimmed
   * copy) or null to lose it. Scenarios use it to hold back chosen messages.
   */
  intercept: ((m: Message) => Message | null) | null = null;
  stats: NetworkStats = newStats();

  private readonly rand: SeededRand;
  private readonly queue = new EventQueue<WireCopy>();
  // Invariant: two nodes can talk iff they map to the same group; a node absent from the map is in group 0.
  private readonly group = new Map<NodeId, number>();
  private nextGroup = 1;
  // The latest arrival time scheduled on each link "from->to", for FIFO delivery.
  private readonly lastArrival = new Map<string, number>();

  constructor(rand: SeededRand, faults: NetworkFaults = reliableFaults()) {
    this.rand = rand;
    this.faults = faults;
  }

  /** Whether a message from `a` can currently reach `b`. */
  connected(a: NodeId, b: NodeId): boolean {
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  /** Splits the cluster: each listed group can talk only within itself; unlisted nodes stay together in another. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.group.clear();
    for (const g of groups) {
      const n = this.nextGroup++;
      for (const id of g) {
        this.group.set(id, n);
      }
    }
  }

  /** Cuts one node off from everyone (6.824's `disconnect`). */
  isolate(id: NodeId): void {
    this.group.set(id, this.nextGroup++);
  }

  /** Puts one node back into the main group (6.824's `connect`). */
  rejoin(id: NodeId): void {
    this.group.delete(id);
  }

  /** Removes every partition. */
  heal(): void {
    this.group.clear();
  }

  /** The partition as groups of the given nodes, for the trace: "{1 2} {3}". */
  describePartition(ids: readonly NodeId[]): string {
    const byGroup = new Map<number, NodeId[]>();
    for (const id of ids) {
      const g = this.group.get(id) ?? 0;
      byGroup.set(g, [...(byGroup.get(g) ?? []), id]);
    }
    return [...byGroup.values()].map((g) => `{${g.join(' ')}}`).join(' ');
  }

  /** Hands a message to the network at time `now`; returns how many copies will arrive (0, 1 or 2). */
  send(m: Message, now: number): number {
    const s = this.stats;
    s.sent++;
    s.sentByType.set(m.type, (s.sentByType.get(m.type) ?? 0) + 1);
    if (m.type === MessageType.MsgAppResp && m.reject) {
      s.appRejections++;
    }
    if (!this.connected(m.from, m.to)) {
      s.cut++;
      return 0;
    }
    const f = this.faults;
    const sent = this.intercept === null ? m : this.intercept(m);
    if (sent === null || this.chance(f.dropRate)) {
      s.dropped++;
      return 0;
    }
    const copies = this.chance(f.duplicateRate) ? 2 : 1;
    s.duplicated += copies - 1;
    const wire = encodeMessage(sent);
    for (let i = 0; i < copies; i++) {
      let delay = f.minDelay + this.rand.intn(Math.max(1, f.maxDelay - f.minDelay + 1));
      if (this.chance(f.longDelayRate)) {
        delay += this.rand.intn(Math.max(1, f.longDelay));
      }
      let at = now + delay;
      if (f.fifo) {
        const link = `${m.from}->${m.to}`;
        at = Math.max(at, this.lastArrival.get(link) ?? 0);
        this.lastArrival.set(link, at);
      }
      this.queue.push(at, { wire, sentAt: now });
    }
    return copies;
  }

  /** When the next message arrives, or undefined when nothing is in flight. */
  nextArrival(): number | undefined {
    return this.queue.peekTime();
  }

  /** Takes the next message due by `now`, telling whether a partition cut it on the way. */
  arrive(now: number): Arrival | undefined {
    const t = this.queue.peekTime();
    if (t === undefined || t > now) {
      return undefined;
    }
    const item = decodeMessage((this.queue.pop() as { at: number; item: WireCopy }).item.wire);
    const cut = !this.connected(item.from, item.to);
    if (cut) {
      this.stats.cut++;
    } else {
      this.stats.delivered++;
    }
    return { message: item, cut };
  }

  /** Messages in flight, earliest first. */
  inFlight(): InFlight[] {
    return this.queue.items().map(({ at, seq, item }) => ({
      id: seq,
      sentAt: item.sentAt,
      at,
      message: decodeMessage(item.wire),
    }));
  }

  /** The message that arrives next, left in flight; undefined when nothing is. */
  peek(): InFlight | undefined {
    const head = this.queue.peek();
    return head === undefined
      ? undefined
      : { id: head.seq, sentAt: head.item.sentAt, at: head.at, message: decodeMessage(head.item.wire) };
  }

  /** Loses the message in flight named `id` (a hand-picked drop); returns whether it was still in flight. */
  drop(id: number): boolean {
    const gone = this.queue.remove(id);
    if (gone) {
      this.stats.dropped++;
    }
    return gone;
  }

  /** How many messages are in flight. */
  get inFlightCount(): number {
    return this.queue.size;
  }

  /** Starts counting afresh (to measure one phase of a scenario). */
  resetStats(): void {
    this.stats = newStats();
  }

  private chance(p: number): boolean {
    return p > 0 && this.rand.float() < p;
  }
}
