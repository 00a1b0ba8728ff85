// # Small shared helpers
//
// Sizes of entries, the identity of a log position, and a described piece of a leader's log. The core limits what
// it sends and applies by bytes, so two kinds of size appear: the encoded size of an entry (what travels and is
// stored) and the size of its payload alone (what the application proposed).

import { entrySize } from './codec';
import { ConfState, Entry } from './types';
import { Logger } from './logger';

/** "No limit" for every byte limit: `entries(lo, hi, noLimit)` returns everything. */
export const noLimit = Number.POSITIVE_INFINITY;

/**
 * The size of an entry's payload. It ignores index and term, so the empty entry a new leader appends counts as zero
 * and never trips the uncommitted-size limit.
 */
export function payloadSize(e: Entry): number {
  return e.data.length;
}

/** The sum of `payloadSize` over `ents`. */
export function payloadsSize(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.length;
  return n;
}

/** The sum of the encoded sizes of `ents`, as etcd counts them (`Entry.Size()`). */
export function entsSize(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += entrySize(e);
  return n;
}

/**
 * The longest prefix of `ents` whose encoded size is at most `maxSize`, but never empty when `ents` is not: an entry
 * larger than the limit still goes out alone, or a big proposal could never be replicated. Returns `ents` itself
 * when nothing is cut.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]);
  for (let limit = 1; limit < ents.length; limit++) {
    size += entrySize(ents[limit]);
    if (size > maxSize) return ents.slice(0, limit);
  }
  return ents;
}

/**
 * A position in a log, named by the term that created the entry and its index. By Log Matching (§5.3), two logs that
 * hold an entry with the same ID agree on every entry up to it.
 */
export interface EntryId {
  term: number;
  index: number;
}

/** The ID of an entry. */
export function pbEntryId(e: Entry): EntryId {
  return { term: e.term, index: e.index };
}

/**
 * A contiguous piece of the log of the leader of `term`: the entries after `prev`, which is the pair AppendEntries
 * calls prevLogIndex / prevLogTerm (AE2). A well-formed slice has `entries[i].index === prev.index + 1 + i`, terms
 * that never decrease from `prev.term` on, and no term above `term`.
 */
export interface LogSlice {
  term: number;
  prev: EntryId;
  entries: Entry[];
}

/** The index of the slice's last entry, or `prev.index` if it has none. */
export function logSliceLastIndex(s: LogSlice): number {
  return s.prev.index + s.entries.length;
}

/** The ID of the slice's last entry, or `prev` if it has none. */
export function logSliceLastEntryId(s: LogSlice): EntryId {
  const n = s.entries.length;
  return n === 0 ? s.prev : pbEntryId(s.entries[n - 1]);
}

/**
 * Why `s` is not a well-formed log slice, or null if it is. Use it where a slice is built from untrusted input (a
 * received message, storage, a test).
 */
export function logSliceProblem(s: LogSlice): string | null {
  let prev = s.prev;
  for (const e of s.entries) {
    if (e.term < prev.term || e.index !== prev.index + 1) {
      return `Leader term ${s.term}: entries ${describeId(prev)} and ${describeId(e)} are not consistent`;
    }
    prev = e;
  }
  if (s.term < prev.term) {
    return `Leader term ${s.term}: entry ${describeId(prev)} has a newer term`;
  }
  return null;
}

function describeId(id: EntryId): string {
  return `{term:${id.term} index:${id.index}}`;
}

function sortedIds(ids: readonly number[]): number[] {
  return [...ids].sort((a, b) => a - b);
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  const x = sortedIds(a);
  const y = sortedIds(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function describeConfState(cs: ConfState): string {
  const ids = (xs: readonly number[]): string => `[${xs.join(' ')}]`;
  return (
    `Voters:${ids(cs.voters)} VotersOutgoing:${ids(cs.votersOutgoing)} Learners:${ids(cs.learners)} ` +
    `LearnersNext:${ids(cs.learnersNext)} AutoLeave:${cs.autoLeave}`
  );
}

/**
 * Null if `a` and `b` describe the same configuration (the order of IDs does not matter), otherwise a sentence
 * showing both.
 */
export function confStatesDifference(a: ConfState, b: ConfState): string | null {
  const same =
    sameIds(a.voters, b.voters) &&
    sameIds(a.learners, b.learners) &&
    sameIds(a.votersOutgoing, b.votersOutgoing) &&
    sameIds(a.learnersNext, b.learnersNext) &&
    a.autoLeave === b.autoLeave;
  return same ? null : `ConfStates not equivalent:\n${describeConfState(a)}\n${describeConfState(b)}`;
}

/** Panics unless `a` and `b` describe the same configuration. */
export function assertConfStatesEquivalent(logger: Logger, a: ConfState, b: ConfState): void {
  const diff = confStatesDifference(a, b);
  if (diff !== null) logger.panic(diff);
}
