// # Describing Raft values as text
//
// Logs, debugging sessions and the scenario files all need one stable, compact text form for entries, messages,
// Ready structs and configurations. These functions produce exactly the text etcd's `Describe*` helpers print, so a
// scenario written against etcd replays against tsraft and compares byte for byte. The data of a normal entry is
// opaque to Raft; an `EntryFormatter` lets the application show it its own way, and by default it is quoted the way
// Go's `%q` quotes a byte string.

import { decodeConfChange, decodeConfChangeV2 } from './codec';
import { confChangeAsV2 } from './confchange/convert';
// Type-only: rawnode reaches this module at run time (through raft.ts), so a value import would form a cycle.
import type { Ready } from './rawnode';
import { LocalAppendThread, LocalApplyThread } from './config';
import {
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  None,
  NodeId,
  ReadState,
  Snapshot,
  SoftState,
  StateType,
  isEmptyHardState,
  isEmptySnapshot,
} from './types';

/** Renders the data of a normal entry. */
export type EntryFormatter = (data: Uint8Array) => string;

const lowerHex = '0123456789abcdef';

// Go's notion of a printable rune: letters, marks, numbers, punctuation, symbols and the ASCII space.
const printableRune = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const shortEscapes: ReadonlyMap<number, string> = new Map([
  [0x07, '\\a'],
  [0x08, '\\b'],
  [0x0c, '\\f'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
  [0x0b, '\\v'],
]);

function hexDigits(value: number, width: number): string {
  let out = '';
  for (let shift = (width - 1) * 4; shift >= 0; shift -= 4) {
    out += lowerHex[(value >>> shift) & 0xf];
  }
  return out;
}

// Decodes one UTF-8 sequence at `i` the way Go's utf8.DecodeRune does: overlong forms, surrogates and code points
// above U+10FFFF are invalid, and an invalid sequence consumes exactly one byte.
function decodeRune(bytes: Uint8Array, i: number): { rune: number; width: number } | null {
  const b0 = bytes[i];
  if (b0 < 0x80) {
    return { rune: b0, width: 1 };
  }
  const cont = (k: number): number | null => {
    const b = bytes[i + k];
    return b !== undefined && (b & 0xc0) === 0x80 ? b & 0x3f : null;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    return c1 === null ? null : { rune: ((b0 & 0x1f) << 6) | c1, width: 2 };
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(1);
    const c2 = cont(2);
    if (c1 === null || c2 === null) {
      return null;
    }
    const rune = ((b0 & 0x0f) << 12) | (c1 << 6) | c2;
    return rune < 0x800 || (rune >= 0xd800 && rune <= 0xdfff) ? null : { rune, width: 3 };
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1);
    const c2 = cont(2);
    const c3 = cont(3);
    if (c1 === null || c2 === null || c3 === null) {
      return null;
    }
    const rune = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
    return rune < 0x10000 || rune > 0x10ffff ? null : { rune, width: 4 };
  }
  return null;
}

/**
 * Quotes bytes as Go's `strconv.Quote(string(b))` (and so `fmt.Sprintf("%q", b)`) does: printable UTF-8 stays as
 * is, `"` and `\` are backslashed, control characters use `\n`-style or `\xNN` escapes, other non-printable runes
 * use `\uNNNN` / `\UNNNNNNNN`, and bytes that are not valid UTF-8 become `\xNN`.
 *
 * @example goQuote(new TextEncoder().encode('a"b\n')) === '"a\\"b\\n"'
 */
export function goQuote(bytes: Uint8Array): string {
  let out = '"';
  for (let i = 0; i < bytes.length; ) {
    const decoded = decodeRune(bytes, i);
    if (decoded === null) {
      out += '\\x' + hexDigits(bytes[i], 2);
      i += 1;
      continue;
    }
    const { rune, width } = decoded;
    i += width;
    const ch = String.fromCodePoint(rune);
    const short = shortEscapes.get(rune);
    if (rune === 0x22 || rune === 0x5c) {
      out += '\\' + ch;
    } else if (printableRune.test(ch)) {
      out += ch;
    } else if (short !== undefined) {
      out += short;
    } else if (rune < 0x20 || rune === 0x7f) {
      out += '\\x' + hexDigits(rune, 2);
    } else if (rune < 0x10000) {
      out += '\\u' + hexDigits(rune, 4);
    } else {
      out += '\\U' + hexDigits(rune, 8);
    }
  }
  return out + '"';
}

/** The formatter scenario files use: the data quoted as Go's `%q` does. */
export const defaultEntryFormatter: EntryFormatter = goQuote;

/** Go's `%v` of a slice: `[1 2 3]`, `[]` when empty. */
function goList(values: readonly (number | string)[]): string {
  return `[${values.join(' ')}]`;
}

/** "Term:2 Vote:1 Commit:5"; the vote is left out when none was cast. */
export function describeHardState(hs: HardState): string {
  let out = `Term:${hs.term}`;
  if (hs.vote !== None) {
    out += ` Vote:${hs.vote}`;
  }
  return `${out} Commit:${hs.commit}`;
}

/** "Lead:1 State:StateLeader". */
export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead} State:${StateType[ss.raftState]}`;
}

/** "Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false". */
export function describeConfState(cs: ConfState): string {
  return (
    `Voters:${goList(cs.voters)} VotersOutgoing:${goList(cs.votersOutgoing)} ` +
    `Learners:${goList(cs.learners)} LearnersNext:${goList(cs.learnersNext)} AutoLeave:${cs.autoLeave}`
  );
}

/**
 * A ConfState in protobuf's one-line text form, as etcd prints a ConfState with `%v`: "voters:1 voters:2
 * learners:3 auto_leave:false". Every ID is a field of its own, in field-number order (voters, learners,
 * voters_outgoing, learners_next); auto_leave is always printed, since etcd always sets it.
 */
export function describeConfStateText(cs: ConfState): string {
  const fields: string[] = [];
  const lists: [string, readonly NodeId[]][] = [
    ['voters', cs.voters],
    ['learners', cs.learners],
    ['voters_outgoing', cs.votersOutgoing],
    ['learners_next', cs.learnersNext],
  ];
  for (const [name, ids] of lists) {
    for (const id of ids) {
      fields.push(`${name}:${id}`);
    }
  }
  fields.push(`auto_leave:${cs.autoLeave}`);
  return fields.join(' ');
}

/** "Index:11 Term:1 ConfState:Voters:[...] ...". */
export function describeSnapshot(snap: Snapshot): string {
  const m = snap.metadata;
  return `Index:${m.index} Term:${m.term} ConfState:${describeConfState(m.confState)}`;
}

const confChangeLetters: ReadonlyMap<ConfChangeType, string> = new Map([
  [ConfChangeType.ConfChangeAddNode, 'v'],
  [ConfChangeType.ConfChangeAddLearnerNode, 'l'],
  [ConfChangeType.ConfChangeRemoveNode, 'r'],
  [ConfChangeType.ConfChangeUpdateNode, 'u'],
]);

/**
 * A configuration change as etcd's log lines name it, always in its V2 shape (a V1 change is the single-step V2
 * change it stands for): "transition:ConfChangeTransitionAuto changes:{type:ConfChangeAddNode node_id:2}", then
 * the context quoted as Go's `%q` when there is one.
 */
export function describeConfChange(cc: ConfChange | ConfChangeV2): string {
  const v2 = confChangeAsV2(cc);
  let out = `transition:${ConfChangeTransition[v2.transition]}`;
  for (const c of v2.changes) {
    out += ` changes:{type:${ConfChangeType[c.type]} node_id:${c.nodeId}}`;
  }
  if (v2.context.length > 0) {
    out += ` context:${goQuote(v2.context)}`;
  }
  return out;
}

/** The compact form of configuration changes, as etcd's ConfChangesToString: "v2 l3 r4 u5". */
export function describeConfChanges(changes: readonly ConfChangeSingle[]): string {
  return changes.map((cc) => `${confChangeLetters.get(cc.type) ?? 'unknown'}${cc.nodeId}`).join(' ');
}

/**
 * Parses the compact form back into changes (the inverse of describeConfChanges): `v` makes a voter, `l` a
 * learner, `r` removes and `u` updates the node whose decimal ID follows. Throws on anything else.
 */
export function parseConfChanges(text: string): ConfChangeSingle[] {
  const trimmed = text.trim();
  if (trimmed === '') {
    return [];
  }
  return trimmed.split(' ').map((token) => {
    if (token.length < 2) {
      throw new Error(`unknown token ${token}`);
    }
    const type = [...confChangeLetters].find(([, letter]) => letter === token[0])?.[0];
    if (type === undefined) {
      throw new Error(`unknown input: ${token}`);
    }
    const digits = token.slice(1);
    if (!/^[0-9]+$/.test(digits)) {
      throw new Error(`strconv.ParseUint: parsing "${digits}": invalid syntax`);
    }
    return { type, nodeId: Number(digits) };
  });
}

// The changes a configuration-change entry carries, or the decoding error's text, as etcd prints it.
function describeConfChangeData(e: Entry): string {
  try {
    if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      return describeConfChanges([{ type: cc.type, nodeId: cc.nodeId }]);
    }
    return describeConfChanges(decodeConfChangeV2(e.data).changes);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** "2/12 EntryNormal \"foo\"", or "2/13 EntryConfChangeV2 v4 l5" for a configuration change. */
export function describeEntry(e: Entry, format: EntryFormatter = defaultEntryFormatter): string {
  const formatted = e.type === EntryType.EntryNormal ? format(e.data) : describeConfChangeData(e);
  return `${e.term}/${e.index} ${EntryType[e.type]}${formatted === '' ? '' : ' ' + formatted}`;
}

/** One described entry per line, each line ending in a newline. */
export function describeEntries(ents: readonly Entry[], format: EntryFormatter = defaultEntryFormatter): string {
  return ents.map((e) => describeEntry(e, format) + '\n').join('');
}

/** A node ID as messages print it: hexadecimal, or the name of a local storage thread. */
export function describeTarget(id: NodeId): string {
  switch (id) {
    case None:
      return 'None';
    case LocalAppendThread:
      return 'AppendThread';
    case LocalApplyThread:
      return 'ApplyThread';
    default:
      return id.toString(16);
  }
}

/**
 * "1->2 MsgApp Term:1 Log:1/10 Commit:10 Entries:[1/11 EntryNormal \"\"]": the fields that are set, with several
 * entries, a snapshot, or the responses of a storage message each on lines of their own.
 */
export function describeMessage(m: Message, format: EntryFormatter = defaultEntryFormatter): string {
  return describeMessageWithIndent('', m, format);
}

function describeMessageWithIndent(indent: string, m: Message, format: EntryFormatter): string {
  let out =
    `${indent}${describeTarget(m.from)}->${describeTarget(m.to)} ${MessageType[m.type]} ` +
    `Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) {
    out += ` Rejected (Hint: ${m.rejectHint})`;
  }
  if (m.commit !== 0) {
    out += ` Commit:${m.commit}`;
  }
  if (m.vote !== None) {
    out += ` Vote:${m.vote}`;
  }
  if (m.entries.length === 1) {
    out += ` Entries:[${describeEntry(m.entries[0], format)}]`;
  } else if (m.entries.length > 1) {
    out += ' Entries:[';
    for (const e of m.entries) {
      out += `\n${indent}  ${describeEntry(e, format)}`;
    }
    out += `\n${indent}]`;
  }
  if (m.snapshot !== null && !isEmptySnapshot(m.snapshot)) {
    out += `\n${indent}  Snapshot: ${describeSnapshot(m.snapshot)}`;
  }
  if (m.responses.length > 0) {
    out += ' Responses:[';
    for (const r of m.responses) {
      out += '\n' + describeMessageWithIndent(indent + '  ', r, format);
    }
    out += `\n${indent}]`;
  }
  return out;
}

/** Go's `%v` of a ReadState slice: "[{12 [114 49]}]". */
export function describeReadStates(states: readonly ReadState[]): string {
  return goList(states.map((rs) => `{${rs.index} ${goList(Array.from(rs.requestCtx))}}`));
}

/** Everything a Ready asks of the application, one section per non-empty part, or "<empty Ready>". */
export function describeReady(rd: Ready, format: EntryFormatter = defaultEntryFormatter): string {
  let out = '';
  if (rd.softState !== null) {
    out += describeSoftState(rd.softState) + '\n';
  }
  if (!isEmptyHardState(rd.hardState)) {
    out += `HardState ${describeHardState(rd.hardState)}\n`;
  }
  if (rd.readStates.length > 0) {
    out += `ReadStates ${describeReadStates(rd.readStates)}\n`;
  }
  if (rd.entries.length > 0) {
    out += 'Entries:\n' + describeEntries(rd.entries, format);
  }
  if (!isEmptySnapshot(rd.snapshot)) {
    out += `Snapshot ${describeSnapshot(rd.snapshot)}\n`;
  }
  if (rd.committedEntries.length > 0) {
    out += 'CommittedEntries:\n' + describeEntries(rd.committedEntries, format);
  }
  if (rd.messages.length > 0) {
    out += 'Messages:\n' + rd.messages.map((m) => describeMessage(m, format) + '\n').join('');
  }
  return out === '' ? '<empty Ready>' : `Ready MustSync=${rd.mustSync}:\n${out}`;
}
