// # Drawing a simulated cluster
//
// Pure functions from the simulator's state to markup: the members on a ring (SVG) with their election timers and
// the messages in flight, each member's log with its commit mark, the side log of events with the rule behind
// each, and the scenario's narration. Nothing here changes the run; clicks are wired up in main.ts.

import { Explanation, RuleId, rules } from '../../../raft/rafttest/explain';
import { MemberState, MessageState, SimState } from '../../../raft/rafttest/timeline';

/** Where each rule's implementing function lives, computed when the page is built. */
export interface RuleLocation {
  file: string;
  line: number;
  section: number;
}

/** The ring's drawing is `ringSize` units square. */
export const ringSize = 520;
const size = ringSize;
const centre = size / 2;
const ringRadius = 190;
const memberRadius = 36;

/** Escapes text for HTML. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Where member number `i` of `n` sits on the ring. */
export function seat(i: number, n: number): { x: number; y: number } {
  const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
  return { x: centre + ringRadius * Math.cos(a), y: centre + ringRadius * Math.sin(a) };
}

const roleFill: Record<string, string> = {
  follower: '#e6eef8',
  'pre-candidate': '#fff1d6',
  candidate: '#fdd49e',
  leader: '#a7dba0',
  down: '#d0d0d0',
};

/** A colour per term, so entries and members of one term match. */
export function termColour(term: number, light = false): string {
  return `hsl(${(term * 67) % 360}, 60%, ${light ? 88 : 72}%)`;
}

function messageColour(type: string): string {
  if (/Vote/.test(type)) {
    return '#e6761b';
  }
  if (/Heartbeat/.test(type)) {
    return '#3a9a3a';
  }
  if (/MsgApp/.test(type)) {
    return '#2f6fbf';
  }
  if (/Snap/.test(type)) {
    return '#8a3fbf';
  }
  return '#666';
}

// An arc of the circle of radius r around (x, y) from the top, clockwise, over `fraction` of the turn.
function arc(x: number, y: number, r: number, fraction: number): string {
  const f = Math.max(0, Math.min(0.9999, fraction));
  const a = -Math.PI / 2 + 2 * Math.PI * f;
  const ex = x + r * Math.cos(a);
  const ey = y + r * Math.sin(a);
  return `M ${x} ${y - r} A ${r} ${r} 0 ${f > 0.5 ? 1 : 0} 1 ${ex.toFixed(2)} ${ey.toFixed(2)}`;
}

/** The ring: members, their timers, and the messages in flight at simulated time `now`. */
export function ringSvg(state: SimState, now: number, tickMs: number, selected: number | null): string {
  const n = state.members.length;
  const where = new Map(state.members.map((m, i) => [m.id, seat(i, n)]));
  const parts: string[] = [];
  parts.push(`<svg id="ring" viewBox="0 0 ${size} ${size}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="cluster">`);
  for (const m of state.members) {
    parts.push(memberSvg(m, where.get(m.id) as { x: number; y: number }, now, tickMs, state.now, m.id === selected));
  }
  for (const msg of state.inFlight) {
    parts.push(messageSvg(msg, where, now));
  }
  parts.push('</svg>');
  return parts.join('');
}

function memberSvg(m: MemberState, p: { x: number; y: number }, now: number, tickMs: number, stateNow: number, selected: boolean): string {
  const out: string[] = [`<g class="member" data-member="${m.id}" tabindex="0">`];
  if (m.up && m.role !== 'leader' && m.electionTimeout > 0) {
    // Interpolate the timer between ticks while playing, so the arc runs smoothly.
    const elapsed = m.electionElapsed + Math.max(0, now - stateNow) / tickMs;
    const left = 1 - elapsed / m.electionTimeout;
    out.push(`<path class="timer" d="${arc(p.x, p.y, memberRadius + 7, left)}" />`);
  }
  const ring = m.side === 'isolated' ? ' cut-off' : m.side === 'partitioned' ? ' far-side' : '';
  const lead = m.role === 'leader' ? ' leading' : '';
  out.push(`<circle class="body${ring}${lead}${selected ? ' selected' : ''}" cx="${p.x}" cy="${p.y}" r="${memberRadius}" fill="${roleFill[m.role] ?? '#eee'}" />`);
  out.push(`<text class="term" x="${p.x}" y="${p.y + 9}">${m.up ? m.term : '✕'}</text>`);
  out.push(`<text class="name" x="${p.x}" y="${p.y - memberRadius - 14}">S${m.id}</text>`);
  const side = m.side === 'isolated' ? ' · cut off' : m.side === 'partitioned' ? ' · far side' : '';
  const member = m.membership === 'voter' ? '' : ` · ${m.membership}`;
  out.push(`<text class="role" x="${p.x}" y="${p.y + memberRadius + 18}">${m.role}${side}${member}</text>`);
  out.push('</g>');
  return out.join('');
}

function messageSvg(msg: MessageState, where: Map<number, { x: number; y: number }>, now: number): string {
  const a = where.get(msg.from);
  const b = where.get(msg.to);
  if (a === undefined || b === undefined) {
    return '';
  }
  const span = Math.max(1, msg.at - msg.sentAt);
  const f = Math.max(0, Math.min(1, (now - msg.sentAt) / span));
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy);
  const skip = (memberRadius + 6) / len;
  const t = skip + (1 - 2 * skip) * f;
  const x = a.x + dx * t;
  const y = a.y + dy * t;
  const colour = messageColour(msg.type);
  const response = /Resp$/.test(msg.type);
  const fill = response ? 'white' : colour;
  return `<g class="msg" data-msg="${msg.id}"><title>${esc(msg.text)} (click to drop)</title>` +
    `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="8" fill="${fill}" stroke="${colour}" stroke-width="3" /></g>`;
}

/** The members' logs, aligned by index, with committed entries solid and the rest pale. */
export function logsHtml(state: SimState): string {
  const width = 22;
  const last = Math.max(1, ...state.members.map((m) => (m.log.length > 0 ? m.log[m.log.length - 1].index : m.snapshotIndex)));
  const first = Math.max(1, last - 23);
  const leader = state.members.find((m) => m.id === state.leader);
  const rows: string[] = [];
  const header: string[] = [];
  for (let i = first; i <= last; i++) {
    header.push(`<span class="ix" style="left:${(i - first) * width}px">${i}</span>`);
  }
  rows.push(`<div class="logrow head"><span class="who"></span><span class="cells">${header.join('')}</span></div>`);
  for (const m of state.members) {
    const cells: string[] = [];
    if (m.snapshotIndex >= first) {
      const w = (m.snapshotIndex - first + 1) * width - 2;
      const label = w > 40 ? 'snap' : '';
      cells.push(`<span class="snap" style="left:0;width:${w}px" title="snapshot up to ${m.snapshotIndex}">${label}</span>`);
    }
    for (const e of m.log) {
      if (e.index < first) {
        continue;
      }
      const committed = e.index <= m.commit;
      const title = `index ${e.index}, term ${e.term}${e.text === '' ? ' (empty entry of a new leader)' : `: ${e.text}`}${committed ? ', committed' : ''}`;
      cells.push(`<span class="entry${committed ? ' committed' : ''}" style="left:${(e.index - first) * width}px;background:${termColour(e.term, !committed)}" title="${esc(title)}">${e.term}</span>`);
    }
    if (m.commit >= first) {
      cells.push(`<span class="commit" style="left:${(m.commit - first + 1) * width - 2}px" title="commit index ${m.commit}"></span>`);
    }
    const pr = leader?.progress.find((x) => x.id === m.id);
    if (pr !== undefined && pr.next >= first && pr.next <= last + 1) {
      const title = `the leader's nextIndex for S${m.id} is ${pr.next}, its matchIndex ${pr.match}`;
      cells.push(`<span class="next" style="left:${(pr.next - first) * width + 5}px" title="${title}">▲</span>`);
    }
    const label = `S${m.id}${m.role === 'leader' ? ' ★' : ''}`;
    rows.push(`<div class="logrow${m.up ? '' : ' down'}" data-member="${m.id}"><span class="who">${label}</span><span class="cells">${cells.join('')}</span></div>`);
  }
  return rows.join('');
}

const ruleIds = Object.keys(rules).join('|');

/** The link of a rule to the annotated source (relative to the page), with its file and line as the title. */
export function ruleLink(id: RuleId, where: Record<string, RuleLocation>): string {
  const r = rules[id];
  const loc = where[id];
  if (loc === undefined) {
    return `<span class="rule">${id}</span>`;
  }
  const page = `../annotated/${loc.file.replace(/\.ts$/, '.html')}#section-${loc.section}`;
  const title = `${id}: ${r.title}${r.paper === '' ? '' : ` (${r.paper})`}. ${r.source.symbol}() at ${loc.file}:${loc.line}`;
  return `<a class="rule" href="${page}" target="_blank" title="${esc(title)}">${id}</a>`;
}

/** The annotated-source location of a rule, as "file:line". */
export function ruleLine(id: RuleId, where: Record<string, RuleLocation>): string {
  const loc = where[id];
  return loc === undefined ? '' : `${loc.file}:${loc.line}`;
}

/** One side-log line. */
export function eventHtml(e: Explanation, where: Record<string, RuleLocation>): string {
  return `<li class="ev${e.routine ? ' routine' : ''}" data-step="${e.step}"><span class="t">${e.at}ms</span> ` +
    `${ruleLink(e.rule, where)} <span class="txt">${esc(e.text)}</span> ` +
    `<span class="src">${esc(ruleLine(e.rule, where))}</span></li>`;
}

/** Narration with rule IDs linked to the source and paper sections linked to the paper. */
export function narrationHtml(title: string, paragraphs: readonly string[], where: Record<string, RuleLocation>): string {
  const paper = (sec: string, thesis: boolean): string =>
    thesis
      ? `<a class="paper" href="https://github.com/ongardie/dissertation" target="_blank" title="Ongaro's thesis, Consensus: Bridging Theory and Practice">${sec}</a>`
      : `<a class="paper" href="https://raft.github.io/raft.pdf" target="_blank" title="the Raft paper, extended version">${sec}</a>`;
  // One pass over the text, so a link's title is never rewritten by a later replacement. "thesis §9.6, §6.2"
  // cites the thesis for both sections.
  const pattern = new RegExp(`\\b(${ruleIds})\\b|(thesis )?(§\\d+(?:\\.\\d+)*(?:, §\\d+(?:\\.\\d+)*)*)`, 'g');
  const link = (p: string): string =>
    esc(p).replace(pattern, (_whole, id: string | undefined, thesis: string | undefined, sections: string) =>
      id !== undefined
        ? ruleLink(id as RuleId, where)
        : `${thesis ?? ''}${sections.split(', ').map((sec) => paper(sec, thesis !== undefined)).join(', ')}`,
    );
  return `<h2>${esc(title)}</h2>${paragraphs.map((p) => `<p>${link(p)}</p>`).join('')}`;
}
