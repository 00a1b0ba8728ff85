// # A run you can rewind
//
// The browser simulator lets a reader pause a cluster, step it one event at a time, crash a member, drop a message
// in flight, and then drag a slider back to any earlier moment. Rewinding needs no undo: a run is a pure function
// of its scenario, its seed and the actions taken at the controls, each recorded with the position (the number of
// events stepped) at which it was taken. To show position N, the Timeline builds a fresh Cluster from the seed and
// replays: step, and at each position first the scenario's cues, then the recorded actions. The picture at N is
// the same every time, down to the bytes in flight.
//
// A scenario scripts its story with cues: a condition on the run and what to do once it holds ("when 5 leads,
// partition it away"). Cues run in order, each once, after every step and after every action, so they fire at the
// same point of every replay.

import { NodeId, None, StateType, EntryType, MessageType } from '../types';
import { Cluster, ClusterOptions } from './cluster';
import { Explanation, RuleId, brief, describeRole, explain, precheck } from './explain';
import { NetworkFaults } from './network';
import { membersOf } from './simnode';
import { latin1, traceMessage } from './trace';

/** What can be done at the controls. Every action is recorded with its position and replayed there. */
export type SimAction =
  | { kind: 'crash' | 'restart' | 'isolate' | 'rejoin' | 'partition' | 'propose' | 'read' | 'campaign' | 'transfer'; node: NodeId }
  | { kind: 'heal' }
  | { kind: 'drop'; message: number };

/** An action and the position at which it was taken. */
export interface RecordedAction {
  position: number;
  action: SimAction;
}

/** A step of a scenario's script: once `when` holds, `run` runs, and `note` goes to the side log. */
export interface Cue {
  when: (t: Timeline) => boolean;
  run: (t: Timeline) => void;
  note: string;
  rule: RuleId;
}

/** What a scenario sets up: the cluster (without its seed) and its script. */
export interface Staging {
  cluster: Omit<ClusterOptions, 'seed'>;
  cues: Cue[];
}

/** A story the simulator can load in one click. */
export interface Scenario {
  id: string;
  title: string;
  /** The seed it is told with; the reader may change it. */
  seed: number;
  /** Paragraphs of narration: plain text, with rule IDs (RV2, L4, ...) and paper sections (§5.4.2) to link. */
  narration: string[];
  /** A fresh cluster configuration and script; called once per replay, so cues may keep state in closures. */
  stage(): Staging;
}

/** A member as the page draws it. */
export interface MemberState {
  id: NodeId;
  up: boolean;
  role: string;
  term: number;
  vote: NodeId;
  lead: NodeId;
  commit: number;
  applied: number;
  /** The index of the latest snapshot: entries up to it are compacted away. */
  snapshotIndex: number;
  log: { index: number; term: number; text: string }[];
  /** Ticks since the election timer last restarted, and when it runs out (randomised per §5.2). */
  electionElapsed: number;
  electionTimeout: number;
  heartbeatElapsed: number;
  heartbeatTimeout: number;
  /** 'main', 'partitioned' (the other side of a split) or 'isolated'. */
  side: 'main' | 'partitioned' | 'isolated';
  /** What the member's applied configuration makes it. */
  membership: 'voter' | 'learner' | 'outside';
  /** On a leader: what it knows of each follower. */
  progress: { id: NodeId; match: number; next: number; state: string }[];
}

/** A message in flight as the page draws it. */
export interface MessageState {
  id: number;
  from: NodeId;
  to: NodeId;
  type: string;
  sentAt: number;
  at: number;
  text: string;
}

/** Everything the page shows, as plain data: equal states draw the same picture. */
export interface SimState {
  scenario: string;
  seed: number;
  position: number;
  horizon: number;
  now: number;
  leader: NodeId;
  members: MemberState[];
  inFlight: MessageState[];
}

/** The network the simulator draws: reliable and in order, slow enough to watch messages travel. */
export function watchableFaults(): NetworkFaults {
  return { dropRate: 0, duplicateRate: 0, minDelay: 10, maxDelay: 20, longDelayRate: 0, longDelay: 0, fifo: true };
}

/** One run of a scenario, at one position, with the actions that shaped it. */
export class Timeline {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly cluster: Cluster;
  /** Side-log lines, oldest first. */
  readonly events: Explanation[] = [];
  /** How many events have been stepped. */
  position = 0;
  /** How far this run has been taken: a later position can be replayed without new actions. */
  horizon = 0;

  private readonly cues: Cue[];
  private cueIndex = 0;
  private actions: RecordedAction[];
  // The partition drawn on the page: members on the far side of a split, and members cut off alone.
  private readonly far = new Set<NodeId>();
  private readonly isolated = new Set<NodeId>();

  constructor(scenario: Scenario, seed: number, actions: readonly RecordedAction[] = [], horizon = 0) {
    this.scenario = scenario;
    this.seed = seed;
    const staging = scenario.stage();
    this.cluster = new Cluster({ tickMs: 10, faults: watchableFaults(), ...staging.cluster, seed, traceLimit: 50 });
    this.cues = staging.cues;
    this.actions = [...actions];
    this.horizon = horizon;
    this.runCues();
    this.replayActionsAt(0);
  }

  /** The run of `scenario` from `seed` with `actions`, taken to `position`. */
  static replay(scenario: Scenario, seed: number, actions: readonly RecordedAction[], position: number, horizon = position): Timeline {
    const t = new Timeline(scenario, seed, actions, horizon);
    t.runTo(position);
    return t;
  }

  /** The recorded actions (a copy). */
  recorded(): RecordedAction[] {
    return [...this.actions];
  }

  /** Steps one event. Returns false when nothing is scheduled (every member is down and nothing is in flight). */
  advance(): boolean {
    const c = this.cluster;
    const ev = c.nextEvent();
    if (ev === undefined) {
      return false;
    }
    const pre = precheck(c, ev);
    c.step();
    this.position++;
    this.horizon = Math.max(this.horizon, this.position);
    const e = explain(c, ev, pre, this.position);
    if (e !== null) {
      this.events.push(e);
    }
    this.runCues();
    this.replayActionsAt(this.position);
    return true;
  }

  /**
   * Steps until the side log gains a line (one that is not routine upkeep, with `skipRoutine`), or `limit` events
   * pass; returns how many events were stepped.
   */
  advanceToNextEvent(skipRoutine = false, limit = 10_000): number {
    const had = this.events.length;
    const gained = (): boolean => this.events.slice(had).some((e) => !skipRoutine || !e.routine);
    let n = 0;
    while (n < limit && !gained() && this.advance()) {
      n++;
    }
    return n;
  }

  /** Steps every event due up to simulated time `ms`. */
  advanceUntil(ms: number): void {
    for (;;) {
      const next = this.cluster.nextEvent();
      if (next === undefined || next.at > ms || !this.advance()) {
        return;
      }
    }
  }

  /** Steps forward to `position` (no further than it; a Timeline never steps back: replay for that). */
  runTo(position: number): void {
    while (this.position < position && this.advance()) {
      // Each advance replays the actions recorded at the position it reaches.
    }
  }

  /**
   * Takes `action` now: it is recorded at the current position, replacing the recorded future (a new branch of
   * the run). Returns whether it did anything.
   */
  act(action: SimAction): boolean {
    this.actions = this.actions.filter((a) => a.position <= this.position);
    this.horizon = this.position;
    this.actions.push({ position: this.position, action });
    return this.apply(action);
  }

  /** What the page draws. */
  state(): SimState {
    const c = this.cluster;
    const members: MemberState[] = [...c.nodes.values()].map((n) => {
      const r = n.rawNode?.raft;
      const b = brief(n);
      const cs = n.confState;
      const storage = n.storage;
      const entries = r !== undefined ? r.raftLog.allEntries() : storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
      const log = entries.map((e) => ({
        index: e.index,
        term: e.term,
        text: e.type === EntryType.EntryNormal ? latin1(e.data) : 'config',
      }));
      const progress: MemberState['progress'] = [];
      if (r !== undefined && r.state === StateType.StateLeader) {
        for (const [id, pr] of [...r.trk.progress].sort((a, b) => a[0] - b[0])) {
          if (id !== n.id) {
            progress.push({ id, match: pr.match, next: pr.next, state: String(pr.state) });
          }
        }
      }
      const voter = cs.voters.includes(n.id) || cs.votersOutgoing.includes(n.id);
      const learner = cs.learners.includes(n.id) || cs.learnersNext.includes(n.id);
      return {
        id: n.id,
        up: b.up,
        role: b.up ? describeRole(b.role) : 'down',
        term: b.term,
        vote: b.vote,
        lead: b.lead,
        commit: b.commit,
        applied: b.applied,
        snapshotIndex: b.snapshotIndex,
        log,
        electionElapsed: r?.electionElapsed ?? 0,
        electionTimeout: r?.randomizedElectionTimeout ?? 0,
        heartbeatElapsed: r?.heartbeatElapsed ?? 0,
        heartbeatTimeout: r?.heartbeatTimeout ?? 0,
        side: this.isolated.has(n.id) ? 'isolated' : this.far.has(n.id) ? 'partitioned' : 'main',
        membership: voter ? 'voter' : learner ? 'learner' : 'outside',
        progress,
      };
    });
    const inFlight = c.network.inFlight().map((f) => ({
      id: f.id,
      from: f.message.from,
      to: f.message.to,
      type: MessageType[f.message.type],
      sentAt: f.sentAt,
      at: f.at,
      text: traceMessage(f.message),
    }));
    return {
      scenario: this.scenario.id,
      seed: this.seed,
      position: this.position,
      horizon: this.horizon,
      now: c.now,
      leader: c.leader(),
      members,
      inFlight,
    };
  }

  // ## For scenario cues

  /** Adds a line to the side log. */
  log(rule: RuleId, node: NodeId, text: string): void {
    this.events.push({ step: this.position, at: this.cluster.now, node, text, rule, routine: false });
  }

  /** The running leader of the highest term, or None. */
  leader(): NodeId {
    return this.cluster.leader();
  }

  /** The members of the leader's configuration; empty while there is no leader. */
  members(): NodeId[] {
    const l = this.cluster.leader();
    return l === None ? [] : membersOf(this.cluster.node(l).confState);
  }

  /** Whether node `id` is up and leading. */
  leads(id: NodeId): boolean {
    const n = this.cluster.nodes.get(id);
    return n !== undefined && n.up && n.rawNode?.raft.state === StateType.StateLeader;
  }

  /** Splits the members into `groups` as the page draws it: the first group is the main side. */
  split(groups: readonly (readonly NodeId[])[]): void {
    this.far.clear();
    this.isolated.clear();
    groups.slice(1).forEach((g) => g.forEach((id) => (g.length === 1 ? this.isolated : this.far).add(id)));
    this.repartition();
  }

  // ## Internals

  private replayActionsAt(position: number): void {
    for (const a of this.actions) {
      if (a.position === position) {
        this.apply(a.action);
      }
    }
  }

  private runCues(): void {
    while (this.cueIndex < this.cues.length && this.cues[this.cueIndex].when(this)) {
      const cue = this.cues[this.cueIndex++];
      cue.run(this);
      this.log(cue.rule, None, cue.note);
    }
  }

  private apply(action: SimAction): boolean {
    const c = this.cluster;
    const done = this.perform(action);
    if (done !== null) {
      const [rule, node, text] = done;
      this.events.push({ step: this.position, at: c.now, node, text, rule, routine: false });
    }
    this.runCues();
    return done !== null;
  }

  // Carries out an action; returns the side-log line it earns, or null if it did nothing.
  private perform(action: SimAction): [RuleId, NodeId, string] | null {
    const c = this.cluster;
    if (action.kind === 'heal') {
      this.far.clear();
      this.isolated.clear();
      c.heal();
      return ['USER', None, 'you heal the network'];
    }
    if (action.kind === 'drop') {
      const m = c.network.inFlight().find((f) => f.id === action.message)?.message;
      return m !== undefined && c.drop(action.message)
        ? ['NET', m.to, `you drop ${m.from}→${m.to} ${MessageType[m.type]}: it never arrives`]
        : null;
    }
    const id = action.node;
    const n = c.nodes.get(id);
    if (n === undefined) {
      return null;
    }
    switch (action.kind) {
      case 'crash':
        if (!n.up) {
          return null;
        }
        c.crash(id);
        return ['USER', id, `you crash ${id}: what it had not written to disk is gone`];
      case 'restart':
        if (n.up) {
          return null;
        }
        c.restart(id);
        return ['S1', id, `you restart ${id}: it reads term ${n.hardState.term}, vote ${n.hardState.vote} and its log back from disk`];
      case 'isolate':
        this.far.delete(id);
        this.isolated.add(id);
        this.repartition();
        return ['USER', id, `you cut ${id} off from everyone`];
      case 'rejoin':
        this.far.delete(id);
        this.isolated.delete(id);
        this.repartition();
        return ['USER', id, `you reconnect ${id}`];
      case 'partition':
        this.isolated.delete(id);
        if (this.far.has(id)) {
          this.far.delete(id);
        } else {
          this.far.add(id);
        }
        this.repartition();
        return ['USER', id, `you move ${id} to the ${this.far.has(id) ? 'far' : 'main'} side of the partition`];
      case 'propose': {
        if (!n.up) {
          return null;
        }
        const leading = n.rawNode?.raft.state === StateType.StateLeader;
        const p = c.propose(id);
        if (p === null) {
          return ['L2', id, `a client's request to ${id} is refused: it knows no leader to forward it to`];
        }
        return leading
          ? ['L2', id, `a client sends "${p}" to leader ${id}, which appends it at ${n.core.raft.raftLog.lastIndex()}`]
          : ['L2', id, `a client sends "${p}" to ${id}, which forwards it to its leader`];
      }
      case 'read':
        return c.read(id) === null ? null : ['RI', id, `a client asks ${id} for a linearizable read (ReadIndex)`];
      case 'campaign':
        if (!n.up) {
          return null;
        }
        c.campaign(id);
        return ['F2', id, `${id}'s election timer is made to run out now`];
      case 'transfer': {
        const l = c.leader();
        if (l === None || l === id) {
          return null;
        }
        c.transferLeader(l, id);
        return ['LT', l, `leader ${l} is asked to hand leadership to ${id}`];
      }
    }
  }

  private repartition(): void {
    const groups = [...this.far].length > 0 ? [[...this.far]] : [];
    for (const id of this.isolated) {
      groups.push([id]);
    }
    if (groups.length === 0) {
      this.cluster.heal();
    } else {
      this.cluster.partition(groups);
    }
  }
}
