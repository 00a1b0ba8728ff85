// # A plain-text trace of a simulation
//
// One line per event worth reading: a message delivered or lost, a node changing role or term, a commit, a crash,
// a partition. A failing seed prints the end of its trace; the docs print whole traces of short runs. Lines carry
// the simulated time, so two runs of one seed produce byte-identical traces.

import { EntryType, Message, MessageType } from '../types';

/** The lines of a run, keeping at most `limit` of the latest (0 keeps everything). */
export class Trace {
  private readonly limit: number;
  private readonly buf: string[] = [];
  // Invariant: when the buffer is full, buf[start] is the oldest line kept.
  private start = 0;
  private total = 0;

  constructor(limit = 0) {
    this.limit = limit;
  }

  /** How many lines were ever added, kept or not. */
  get length(): number {
    return this.total;
  }

  /** Adds the line `text` at simulated time `now`. */
  add(now: number, text: string): void {
    const line = `${String(now).padStart(6, ' ')}ms ${text}`;
    this.total++;
    if (this.limit === 0 || this.buf.length < this.limit) {
      this.buf.push(line);
      return;
    }
    this.buf[this.start] = line;
    this.start = (this.start + 1) % this.limit;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    return [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }

  /** The last `n` kept lines as one string. */
  tail(n: number): string {
    const all = this.lines();
    return all.slice(Math.max(0, all.length - n)).join('\n');
  }

  /** Every kept line, one per line. */
  toString(): string {
    return this.lines().join('\n');
  }
}

/**
 * A message on one line, in the field order etcd prints: "1->2 MsgApp Term:3 Log:2/5 Commit:4 Entries:[3/6..3/8]".
 * Entries are summarised by their first and last term/index; payloads of a single normal entry are shown.
 */
export function traceMessage(m: Message): string {
  let out = `${m.from}->${m.to} ${MessageType[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) {
    out += ` Rejected (Hint: ${m.rejectHint})`;
  }
  if (m.commit !== 0) {
    out += ` Commit:${m.commit}`;
  }
  const n = m.entries.length;
  if (n === 1) {
    const e = m.entries[0];
    const body = e.type === EntryType.EntryNormal ? ` "${latin1(e.data)}"` : ` ${EntryType[e.type]}`;
    out += ` Entries:[${e.term}/${e.index}${body}]`;
  } else if (n > 1) {
    const a = m.entries[0];
    const b = m.entries[n - 1];
    out += ` Entries:[${a.term}/${a.index}..${b.term}/${b.index}]`;
  }
  if (m.snapshot !== null && m.snapshot.metadata.index !== 0) {
    const md = m.snapshot.metadata;
    out += ` Snapshot:${md.term}/${md.index} voters=[${md.confState.voters.join(' ')}]`;
  }
  return out;
}

/** Bytes as one character each: payloads in the simulator are ASCII, and this never throws on others. */
export function latin1(data: Uint8Array): string {
  let s = '';
  for (const b of data) {
    s += String.fromCharCode(b);
  }
  return s;
}
