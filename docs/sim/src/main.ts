// # The simulator page
//
// Wires the Timeline (a rewindable run of the real core on the simulated network) to the page: the scenario menu,
// play / pause / step, the speed, the time slider, clicks on members and on messages in flight. While playing, a
// frame advances simulated time by the real time elapsed times the speed and steps every event due; the picture
// between two events is interpolated (messages glide, timers run down), the state is not.
//
// `window.__tsraftSim` exposes the same controls to tests, and the state as plain data, so a test can compare what
// two replays produce without looking at pixels.

import { Explanation } from '../../../raft/rafttest/explain';
import { SimAction, SimState, Timeline } from '../../../raft/rafttest/timeline';
import { scenarioById, scenarios } from '../../../raft/rafttest/walkthroughs';
import { RuleLocation, eventHtml, logsHtml, narrationHtml, ringSize, ringSvg, seat } from './view';

declare const TSRAFT_RULE_LOCATIONS: string;
const where = JSON.parse(TSRAFT_RULE_LOCATIONS) as Record<string, RuleLocation>;

// Simulated milliseconds per real millisecond.
const speeds = [0.01, 0.03, 0.1, 0.3, 1];
// Most events one frame may step, so a fast speed cannot freeze the page.
const maxEventsPerFrame = 5000;
// Side-log lines kept on the page.
const shownEvents = 400;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) {
    throw new Error(`The page has no #${id}`);
  }
  return el as T;
}

/** The page's controller. */
class Simulator {
  timeline: Timeline;
  playing = false;
  speed = 0.03;
  /** A position the slider asked for, to go to at the next frame. */
  pendingSeek: number | null = null;
  private shown = 0;
  private displayTime = 0;
  private lastFrame = 0;
  private selected: number | null = null;
  private shownTimeline: Timeline | null = null;

  constructor() {
    this.timeline = new Timeline(scenarios[0], scenarios[0].seed);
  }

  load(id: string, seed?: number): void {
    const sc = scenarioById(id);
    this.timeline = new Timeline(sc, seed ?? sc.seed);
    byId('error').hidden = true;
    this.selected = null;
    this.displayTime = 0;
    byId<HTMLSelectElement>('scenario').value = /^free-/.test(id) ? 'free-5' : id;
    byId<HTMLInputElement>('seed').value = String(this.timeline.seed);
    byId('narration').innerHTML = narrationHtml(sc.title, sc.narration, where);
    for (const chip of Array.from(document.querySelectorAll('#chips [data-scenario]'))) {
      const on = chip.getAttribute('data-scenario') === (/^free-/.test(id) ? 'free-5' : id);
      chip.classList.toggle('on', on);
    }
    this.draw();
  }

  /** Goes to position `n`, replaying from the seed when it lies in the past. */
  seek(n: number): void {
    const t = this.timeline;
    const target = Math.max(0, n);
    if (target < t.position) {
      this.timeline = Timeline.replay(t.scenario, t.seed, t.recorded(), target, t.horizon);
    } else {
      t.runTo(target);
    }
    this.displayTime = this.timeline.cluster.now;
    this.draw();
  }

  act(action: SimAction): boolean {
    const did = this.timeline.act(action);
    this.displayTime = Math.max(this.displayTime, this.timeline.cluster.now);
    this.draw();
    return did;
  }

  /** Steps to the next event worth a line in the side log. */
  stepEvent(): void {
    this.pause();
    this.timeline.advanceToNextEvent(!this.showRoutine());
    this.displayTime = this.timeline.cluster.now;
    this.draw();
  }

  /** Goes back to the previous line of the side log. */
  stepBack(): void {
    this.pause();
    const t = this.timeline;
    const earlier = t.events.filter((e) => e.step < t.position && (this.showRoutine() || !e.routine));
    const prev = earlier.length > 0 ? earlier[earlier.length - 1].step : 0;
    this.seek(prev);
  }

  play(): void {
    this.playing = true;
    this.lastFrame = performance.now();
    this.displayTime = Math.max(this.displayTime, this.timeline.cluster.now);
    byId('play').textContent = '❚❚ pause';
  }

  pause(): void {
    this.playing = false;
    byId('play').textContent = '▶ play';
  }

  frame(ts: number): void {
    if (this.pendingSeek !== null) {
      const target = this.pendingSeek;
      this.pendingSeek = null;
      this.seek(target);
    }
    if (this.playing) {
      const dt = Math.min(100, ts - this.lastFrame);
      this.lastFrame = ts;
      const target = this.displayTime + dt * this.speed;
      const t = this.timeline;
      let n = 0;
      for (let next = t.cluster.nextEvent(); next !== undefined && next.at <= target && n < maxEventsPerFrame; next = t.cluster.nextEvent()) {
        t.advance();
        n++;
      }
      this.displayTime = n === maxEventsPerFrame ? t.cluster.now : target;
      this.draw();
    }
  }

  draw(): void {
    const t = this.timeline;
    const state = t.state();
    const now = Math.max(this.displayTime, state.now);
    byId('ring-box').innerHTML = ringSvg(state, now, t.cluster.tickMs, this.selected);
    byId('logs').innerHTML = logsHtml(state);
    const slider = byId<HTMLInputElement>('slider');
    slider.max = String(Math.max(state.horizon, state.position));
    slider.value = String(state.position);
    byId('where').textContent = `event ${state.position} of ${Math.max(state.horizon, state.position)} · ${Math.round(now)} ms · seed ${state.seed}`;
    this.drawEvents(t);
    this.drawMenu(state);
  }

  private drawEvents(t: Timeline): void {
    const list = byId('events');
    if (this.shownTimeline !== t || this.shown > t.events.length) {
      list.innerHTML = '';
      this.shown = Math.max(0, t.events.length - shownEvents);
      this.shownTimeline = t;
    }
    if (this.shown < t.events.length) {
      const html = t.events.slice(this.shown).map((e: Explanation) => eventHtml(e, where)).join('');
      list.insertAdjacentHTML('beforeend', html);
      this.shown = t.events.length;
      while (list.children.length > shownEvents) {
        list.firstElementChild?.remove();
      }
      list.scrollTop = list.scrollHeight;
    }
  }

  private drawMenu(state: SimState): void {
    const menu = byId('menu');
    const m = state.members.find((x) => x.id === this.selected);
    if (m === undefined) {
      menu.hidden = true;
      return;
    }
    const items: [string, SimAction][] = [];
    items.push(m.up ? ['Crash', { kind: 'crash', node: m.id }] : ['Restart', { kind: 'restart', node: m.id }]);
    items.push(m.side === 'isolated' ? ['Reconnect', { kind: 'rejoin', node: m.id }] : ['Isolate', { kind: 'isolate', node: m.id }]);
    items.push([m.side === 'partitioned' ? 'Back to the main side' : 'Move to the far side of a partition', { kind: 'partition', node: m.id }]);
    if (m.up) {
      items.push(['Client request here', { kind: 'propose', node: m.id }]);
      items.push(['ReadIndex read here', { kind: 'read', node: m.id }]);
      items.push(['Time out now (campaign)', { kind: 'campaign', node: m.id }]);
      if (state.leader !== 0 && state.leader !== m.id) {
        items.push(['Transfer leadership here', { kind: 'transfer', node: m.id }]);
      }
    }
    menu.innerHTML = `<div class="menu-title">S${m.id}: ${m.role}, term ${m.term}, commit ${m.commit}</div>` +
      items.map(([label], i) => `<button data-item="${i}">${label}</button>`).join('');
    menu.hidden = false;
    // Beside the member, kept inside the stage.
    const box = byId('ring-box').getBoundingClientRect();
    const stage = byId('stage').getBoundingClientRect();
    const i = state.members.indexOf(m);
    const p = seat(i, state.members.length);
    const scale = box.width / ringSize;
    // Right of a member on the left half of the ring, left of one on the right half.
    const beside = p.x < ringSize / 2 ? 44 * scale : -44 * scale - menu.offsetWidth;
    const x = box.left - stage.left + p.x * scale + beside;
    const y = box.top - stage.top + p.y * scale - 40 * scale;
    menu.style.left = `${Math.max(4, Math.min(x, stage.width - menu.offsetWidth - 4))}px`;
    menu.style.top = `${Math.max(4, Math.min(y, stage.height - menu.offsetHeight - 4))}px`;
    menu.onclick = (ev) => {
      const b = (ev.target as HTMLElement).closest('button');
      if (b !== null) {
        const item = items[Number(b.dataset.item)];
        this.selected = null;
        this.guard(() => this.act(item[1]));
      }
    };
  }

  /** Whether the side log shows routine upkeep (heartbeats, Readies that only send). */
  showRoutine(): boolean {
    return byId<HTMLInputElement>('routine').checked;
  }

  /**
   * Runs `f`, and if the run breaks (a Figure 3 property checked after every step fails, or the core panics),
   * pauses and says so on the page instead of leaving a dead picture. The message names the seed to replay.
   */
  guard(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.pause();
      const banner = byId('error');
      banner.textContent = `The run stopped: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      banner.hidden = false;
    }
  }

  select(id: number | null): void {
    this.selected = this.selected === id ? null : id;
    this.draw();
  }

  /** Drops the first message in flight from `from` to `to` of type `type` (e.g. "MsgVote"). */
  dropWhere(from: number, to: number, type: string): boolean {
    const m = this.timeline.state().inFlight.find((x) => x.from === from && x.to === to && x.type === type);
    return m !== undefined && this.act({ kind: 'drop', message: m.id });
  }
}

function wire(sim: Simulator): void {
  const select = byId<HTMLSelectElement>('scenario');
  select.innerHTML = scenarios.map((s) => `<option value="${s.id}">${s.title}</option>`).join('');
  select.onchange = () => {
    sim.pause();
    const id = select.value === 'free-5' ? `free-${byId<HTMLSelectElement>('members').value}` : select.value;
    sim.load(id);
  };
  byId<HTMLSelectElement>('members').onchange = () => {
    sim.pause();
    sim.load(`free-${byId<HTMLSelectElement>('members').value}`);
  };
  byId('reseed').onclick = () => {
    sim.pause();
    sim.load(sim.timeline.scenario.id, Number(byId<HTMLInputElement>('seed').value) >>> 0);
  };
  byId('play').onclick = () => (sim.playing ? sim.pause() : sim.play());
  byId('step').onclick = () => sim.guard(() => sim.stepEvent());
  byId('back').onclick = () => sim.guard(() => sim.stepBack());
  byId('request').onclick = () => {
    const l = sim.timeline.leader();
    sim.guard(() => sim.act({ kind: 'propose', node: l === 0 ? sim.timeline.state().members[0].id : l }));
  };
  byId('heal').onclick = () => sim.guard(() => sim.act({ kind: 'heal' }));
  const routine = byId<HTMLInputElement>('routine');
  routine.onchange = () => byId('events').classList.toggle('hide-routine', !routine.checked);
  const speed = byId<HTMLInputElement>('speed');
  speed.max = String(speeds.length - 1);
  speed.value = String(speeds.indexOf(sim.speed));
  const showSpeed = (): void => {
    sim.speed = speeds[Number(speed.value)];
    byId('speed-label').textContent = `${sim.speed}× real time`;
  };
  speed.oninput = showSpeed;
  showSpeed();
  const slider = byId<HTMLInputElement>('slider');
  // Dragging asks for a position at every pixel; replaying is done once per frame, for the latest one asked.
  slider.oninput = () => {
    sim.pause();
    sim.pendingSeek = Number(slider.value);
  };
  slider.onchange = () => {
    sim.pendingSeek = null;
    sim.guard(() => sim.seek(Number(slider.value)));
  };
  const chips = byId('chips');
  chips.innerHTML = scenarios.map((s) => `<button data-scenario="${s.id}">${s.title.replace(/:.*$/, '')}</button>`).join('');
  chips.onclick = (ev) => {
    const b = (ev.target as Element).closest('[data-scenario]');
    if (b !== null) {
      sim.pause();
      sim.load(b.getAttribute('data-scenario') as string);
    }
  };
  byId('ring-box').onclick = (ev) => {
    const target = ev.target as Element;
    const msg = target.closest('[data-msg]');
    if (msg !== null) {
      sim.guard(() => sim.act({ kind: 'drop', message: Number(msg.getAttribute('data-msg')) }));
      return;
    }
    const member = target.closest('[data-member]');
    sim.select(member === null ? null : Number(member.getAttribute('data-member')));
  };
  byId('events').onclick = (ev) => {
    const target = ev.target as Element;
    if (target.closest('a') !== null) {
      return;
    }
    const li = target.closest('[data-step]');
    if (li !== null) {
      sim.pause();
      sim.guard(() => sim.seek(Number(li.getAttribute('data-step'))));
    }
  };
  document.addEventListener('keydown', (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) {
      return;
    }
    if (ev.key === ' ') {
      ev.preventDefault();
      sim.playing ? sim.pause() : sim.play();
    } else if (ev.key === 'ArrowRight') {
      sim.guard(() => sim.stepEvent());
    } else if (ev.key === 'ArrowLeft') {
      sim.guard(() => sim.stepBack());
    }
  });
  const loop = (ts: number): void => {
    sim.guard(() => sim.frame(ts));
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}

/** What tests (and curious readers, from the console) can do with the page. */
export interface SimHook {
  scenarios(): string[];
  load(id: string, seed?: number): void;
  state(): SimState;
  events(): Explanation[];
  position(): number;
  seek(position: number): void;
  /** Steps `n` events (ticks included). */
  step(n: number): void;
  /** Steps to the next line of the side log; returns how many events that took. */
  stepEvent(): number;
  /** Steps every event due up to simulated time `ms`. */
  runUntil(ms: number): void;
  act(action: SimAction): boolean;
  drop(from: number, to: number, type: string): boolean;
  play(): void;
  pause(): void;
  setSpeed(simMsPerRealMs: number): void;
}

declare global {
  interface Window {
    __tsraftSim: SimHook;
  }
}

function start(): void {
  const sim = new Simulator();
  wire(sim);
  const fromHash = decodeURIComponent(location.hash.slice(1));
  const [id, seed] = fromHash.split('@');
  let loaded = false;
  if (id !== '') {
    try {
      sim.load(id, seed === undefined ? undefined : Number(seed));
      loaded = true;
    } catch {
      loaded = false;
    }
  }
  if (!loaded) {
    sim.load(scenarios[0].id);
  }
  window.__tsraftSim = {
    scenarios: () => [...scenarios.map((s) => s.id), 'free-3', 'free-7'],
    load: (scenario, s) => {
      sim.pause();
      sim.load(scenario, s);
    },
    state: () => sim.timeline.state(),
    events: () => [...sim.timeline.events],
    position: () => sim.timeline.position,
    seek: (p) => sim.seek(p),
    step: (n) => {
      sim.seek(sim.timeline.position + n);
    },
    stepEvent: () => {
      const before = sim.timeline.position;
      sim.stepEvent();
      return sim.timeline.position - before;
    },
    runUntil: (ms) => {
      sim.timeline.advanceUntil(ms);
      sim.seek(sim.timeline.position);
    },
    act: (a) => sim.act(a),
    drop: (from, to, type) => sim.dropWhere(from, to, type),
    play: () => sim.play(),
    pause: () => sim.pause(),
    setSpeed: (s) => {
      sim.speed = s;
    },
  };
  document.body.dataset.ready = 'true';
}

start();
