// # Nemeses: the faults, on a seeded schedule
//
// A run's seed fixes its schedule: when each fault starts, which family it belongs to, how long it holds, and the
// random numbers that choose its victims. Victims are chosen at the time of the fault from the members then in the
// cluster ("the leader" is whoever leads at that moment), so a replay repeats the same faults in the same order
// while the processes' own timing may differ.

import { SeededRand } from '../../raft/rand';
import { ChaosCluster } from './cluster';
import { exchange } from './workload';

/** The fault families, one per kind of trouble. */
export const families = [
  'kill',
  'kill-leader',
  'pause',
  'partition-leader',
  'partition-minority',
  'partition-majority',
  'bridge',
  'one-way',
  'delay',
  'drop',
  'restart-all',
  'membership',
  'power-loss',
] as const;
export type Family = (typeof families)[number];

/** One scheduled fault. */
export interface FaultEvent {
  /** Milliseconds after the workload starts. */
  at: number;
  family: Family;
  holdMs: number;
  /** Random numbers in [0, 1) that choose victims and parameters. */
  picks: number[];
}

/** The faults of a run of `seconds` seconds: `family` alone, or any of `mix` for each fault. */
export function schedule(seed: number, family: Family | 'all', seconds: number, mix: readonly Family[]): FaultEvent[] {
  const rand = new SeededRand(seed);
  const events: FaultEvent[] = [];
  let at = 1000 + rand.intn(1000);
  const end = seconds * 1000 - 1500;
  while (at < end) {
    const chosen = family === 'all' ? (mix[rand.intn(mix.length)] ?? 'kill') : family;
    const holdMs = Math.min(1000 + rand.intn(4000), Math.max(500, end - at));
    events.push({ at, family: chosen, holdMs, picks: Array.from({ length: 8 }, () => rand.float()) });
    at += holdMs + 1000 + rand.intn(2000);
  }
  return events;
}

/** Applies faults to a cluster and undoes them. */
export class Nemesis {
  /** What happened, with times, for the run's log. */
  readonly journal: string[] = [];
  private readonly killed = new Set<number>();
  private readonly paused = new Set<number>();
  /** Members added through the API by the membership nemesis. */
  private nextMemberId: number;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly initialMembers: number,
    private readonly now: () => number,
    private readonly opTimeoutMs: number,
    private readonly powerLossEnv: boolean,
  ) {
    this.nextMemberId = initialMembers + 1;
  }

  /** Starts a fault; resolves with the function that heals it. */
  async start(ev: FaultEvent): Promise<() => Promise<void>> {
    const c = this.cluster;
    const pick = (list: number[], i: number): number => list[Math.floor((ev.picks[i] ?? 0) * list.length)] ?? list[0] ?? 0;
    const members = c.current().sort((a, b) => a - b);
    const up = c.running().filter((id) => !c.member(id).paused);
    const leader = (await c.leader()) ?? pick(up.length > 0 ? up : members, 7);
    const note = (what: string): void => {
      this.journal.push(`${(this.now() / 1000).toFixed(2)}s ${ev.family}: ${what}`);
    };
    const healLinks = async (): Promise<void> => {
      c.links.healAll();
      note('links healed');
    };
    const cut = (groups: number[][]): void => {
      for (const g of groups) for (const h of groups) if (g !== h) for (const a of g) for (const b of h) c.links.set(a, b, { blocked: true });
      note(`partition ${groups.map((g) => `{${g.join(',')}}`).join(' ')}`);
    };
    const shuffled = (list: number[]): number[] => {
      const out = [...list];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor((ev.picks[i % ev.picks.length] ?? 0) * (i + 1));
        [out[i], out[j]] = [out[j] as number, out[i] as number];
      }
      return out;
    };

    switch (ev.family) {
      case 'kill':
      case 'kill-leader': {
        const victim = ev.family === 'kill' ? pick(up, 0) : leader;
        await this.kill(victim);
        note(`killed member ${victim}${victim === leader ? ' (the leader)' : ''}`);
        return () => this.restart([victim], note);
      }
      case 'pause': {
        const victim = ev.picks[1] !== undefined && ev.picks[1] < 0.5 ? leader : pick(up, 0);
        c.pause(victim);
        this.paused.add(victim);
        note(`paused member ${victim}${victim === leader ? ' (the leader)' : ''}`);
        return async () => {
          c.resume(victim);
          this.paused.delete(victim);
          note(`resumed member ${victim}`);
        };
      }
      case 'partition-leader':
        cut([[leader], members.filter((id) => id !== leader)]);
        return healLinks;
      case 'partition-minority': {
        // The leader on the minority side: the majority must elect a new leader while the old one still believes.
        const others = shuffled(members.filter((id) => id !== leader));
        const minority = [leader, ...others.slice(0, Math.floor((members.length - 1) / 2) - 1)];
        cut([minority, members.filter((id) => !minority.includes(id))]);
        return healLinks;
      }
      case 'partition-majority': {
        // The leader on the majority side: it keeps serving while the minority falls behind and must catch up.
        const others = shuffled(members.filter((id) => id !== leader));
        const minority = others.slice(0, Math.floor((members.length - 1) / 2));
        cut([minority, members.filter((id) => !minority.includes(id))]);
        return healLinks;
      }
      case 'bridge': {
        // Two halves that cannot talk, and one member that talks to both.
        const order = shuffled(members);
        const middle = Math.floor(order.length / 2);
        const bridge = order[middle] as number;
        const left = order.slice(0, middle);
        const right = order.slice(middle + 1);
        for (const a of left) for (const b of right) {
          c.links.set(a, b, { blocked: true });
          c.links.set(b, a, { blocked: true });
        }
        note(`bridge: {${left.join(',')}} and {${right.join(',')}} meet only through ${bridge}`);
        return healLinks;
      }
      case 'one-way': {
        // Either what the leader sends is lost (it still hears everyone), or what one member receives is.
        if ((ev.picks[2] ?? 0) < 0.5) {
          for (const b of members) if (b !== leader) c.links.set(leader, b, { blocked: true });
          note(`one-way: nothing from the leader ${leader} gets through`);
        } else {
          const victim = pick(members, 3);
          for (const a of members) if (a !== victim) c.links.set(a, victim, { blocked: true });
          note(`one-way: nothing reaches member ${victim}; what it sends gets through`);
        }
        return healLinks;
      }
      case 'delay': {
        const delayMs = 20 + Math.floor((ev.picks[4] ?? 0) * 280);
        for (const a of members) for (const b of members) if (a !== b) c.links.set(a, b, { delayMs, jitterMs: delayMs });
        note(`every link delayed ${delayMs}-${2 * delayMs} ms`);
        return healLinks;
      }
      case 'drop': {
        const dropRate = 0.02 + (ev.picks[4] ?? 0) * 0.28;
        for (const a of members) for (const b of members) if (a !== b) c.links.set(a, b, { dropRate });
        note(`every link resets ${(dropRate * 100).toFixed(0)}% of its chunks`);
        return healLinks;
      }
      case 'restart-all': {
        const all = c.running();
        await Promise.all(all.map((id) => this.kill(id)));
        note(`killed every member (${all.join(',')})`);
        return () => this.restart(shuffled(all), note);
      }
      case 'membership':
        await this.changeMembership(ev, note);
        return async () => undefined;
      case 'power-loss': {
        const victims = (ev.picks[5] ?? 0) < 0.3 ? up : [pick(up, 0)];
        await Promise.all(victims.map((id) => this.powerLoss(id)));
        note(`power lost on member${victims.length > 1 ? 's' : ''} ${victims.join(',')}`);
        return () => this.restart(victims, note);
      }
    }
  }

  /** Undoes every fault: links healed, members resumed and restarted. */
  async healAll(): Promise<void> {
    const c = this.cluster;
    c.links.healAll();
    for (const id of this.paused) c.resume(id);
    this.paused.clear();
    const down = c.current().filter((id) => c.member(id).proc === null);
    await this.restart(down, (what) => this.journal.push(`${(this.now() / 1000).toFixed(2)}s heal: ${what}`));
  }

  private async kill(id: number): Promise<void> {
    this.killed.add(id);
    await this.cluster.stop(id, 'SIGKILL');
  }

  // The fault layer, enabled in the member by its environment, writes what a power loss could leave on disk and
  // then kills the process when it receives SIGUSR2.
  private async powerLoss(id: number): Promise<void> {
    const m = this.cluster.member(id);
    if (!this.powerLossEnv || m.proc === null || m.exited === null) return this.kill(id);
    this.killed.add(id);
    m.expectExit = true;
    this.cluster.resume(id);
    m.proc.kill('SIGUSR2');
    // Rewriting the data directory can take a while on a loaded machine; a SIGKILL in the middle would leave a state
    // no power loss can (durable files half rewritten), so the fallback is only for a member that never reacts.
    const gone = await Promise.race([m.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000))]);
    if (!gone) {
      this.cluster.failures.push(`member ${id} did not lose power within 60 s of SIGUSR2`);
      await this.cluster.stop(id, 'SIGKILL');
    }
    m.proxy.resetAll();
  }

  private async restart(ids: number[], note: (what: string) => void): Promise<void> {
    for (const id of ids) {
      if (this.cluster.member(id).removed || this.cluster.member(id).proc !== null) continue;
      const ok = await this.cluster.restart(id);
      this.killed.delete(id);
      note(ok ? `restarted member ${id}` : `member ${id} FAILED to restart`);
    }
  }

  // One step of a cycle that keeps between `initialMembers` and one more voters: add a learner (then start it with
  // --join), promote it, remove a voter (perhaps the leader). Membership requests are not part of the checked
  // history; when one's outcome is unknown, the next step reads the membership and goes on from what it finds.
  private async changeMembership(ev: FaultEvent, note: (what: string) => void): Promise<void> {
    const c = this.cluster;
    const ask = c.running().filter((id) => !c.member(id).paused);
    if (ask.length === 0) return;
    const via = ask[Math.floor((ev.picks[0] ?? 0) * ask.length)] as number;
    const listed = await exchange(`${c.clientURL(via)}/members`, 'GET', undefined, this.opTimeoutMs);
    if (!('status' in listed) || listed.status !== 200) {
      note(`member ${via} did not list the members`);
      return;
    }
    const list = (JSON.parse(listed.body) as { members: { id: number; learner: boolean }[] }).members;
    const learner = list.find((m) => m.learner);
    const voters = list.filter((m) => !m.learner).map((m) => m.id);
    if (learner !== undefined) {
      if (c.members.has(learner.id) && c.member(learner.id).proc === null) {
        c.member(learner.id).removed = false;
        c.spawn(learner.id, ['--join', ask.map((id) => c.clientURL(id)).join(',')]);
      }
      const r = await exchange(`${c.clientURL(via)}/members/${learner.id}/promote`, 'POST', undefined, this.opTimeoutMs);
      note(`promote member ${learner.id} via ${via}: ${'status' in r ? r.status : r.error}`);
      return;
    }
    if (voters.length > this.initialMembers) {
      const victim = voters[Math.floor((ev.picks[1] ?? 0) * voters.length)] as number;
      const r = await exchange(`${c.clientURL(via)}/members/${victim}`, 'DELETE', undefined, this.opTimeoutMs);
      if ('status' in r && r.status === 200 && c.members.has(victim)) c.member(victim).removed = true;
      note(`remove member ${victim} via ${via}: ${'status' in r ? r.status : r.error}`);
      return;
    }
    const id = this.nextMemberId++;
    const m = await c.allocate(id);
    const body = JSON.stringify({ peerURL: c.peerURL(id), learner: true, id });
    const r = await exchange(`${c.clientURL(via)}/members`, 'POST', body, this.opTimeoutMs);
    note(`add learner ${id} (peer URL ${c.peerURL(id)}) via ${via}: ${'status' in r ? r.status : r.error}`);
    let added = 'status' in r && r.status === 201;
    if (!added && !('status' in r && r.status >= 400 && r.status < 500)) {
      // The answer was lost or said "unavailable": start the learner only if the cluster did add it.
      const again = await exchange(`${c.clientURL(via)}/members`, 'GET', undefined, this.opTimeoutMs);
      added = 'status' in again && again.status === 200 && (JSON.parse(again.body) as { members: { id: number }[] }).members.some((x) => x.id === id);
    }
    if (!added) {
      m.removed = true;
      return;
    }
    c.spawn(id, ['--join', ask.map((x) => c.clientURL(x)).join(',')]);
  }
}
