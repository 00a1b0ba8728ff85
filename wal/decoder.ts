// # Reading a log back
//
// `decodeLog` turns the bytes of consecutive segments into what the WAL promises: the node's identity, its last hard
// state, and the entries after a snapshot. It works on bytes already in memory and touches no file, so recovery can
// be exercised on thousands of damaged copies cheaply; `Wal` does the file work (reading, repairing) around it.
//
// Entries are replayed in write order. When an entry's index is at or below one already read, the leader that wrote
// it overwrote a conflicting suffix (§5.3: "if an existing entry conflicts with a new one, delete the existing entry
// and all that follow it"), so the later entry replaces the earlier one and everything after it.

import { decodeEntry, decodeHardState } from '../raft/codec';
import { Entry, HardState, emptyHardState } from '../raft/types';
import { WalError } from './errors';
import { RecordType, TornTail, scanSegment } from './record';
import { SegmentBytes, SegmentName } from './segment';
import { WalMetadata, WalSnapshot, decodeMetadata, decodeWalSnapshot, sameMetadata } from './walpb';

/**
 * Reads a segment's bytes (with where its data ends, if the reader learnt it); called once per segment, in order, so
 * only one segment need be in memory at a time.
 */
export type SegmentReader = (segment: SegmentName) => Uint8Array | SegmentBytes;

/** What to do with what is read. */
export interface DecodeOptions {
  /** Entries at or below this snapshot's index are skipped; with `entries`, the log must record this snapshot. */
  start: WalSnapshot;
  /** False to skip collecting entries (reading only states and markers, from wherever the directory begins). */
  entries: boolean;
}

/** The content of a log, and where its writer resumes. */
export interface DecodedLog {
  metadata: WalMetadata;
  hardState: HardState;
  /** Entries after `start.index`, contiguous, after conflicting suffixes were replaced. */
  entries: Entry[];
  /** Every snapshot marker read, in order. */
  snapshots: WalSnapshot[];
  /** The last entry index written (after replacements), or the start index when none follows it. */
  lastIndex: number;
  /** The running CRC after the last good record. */
  crc: number;
  /** Offset in the last segment just past its last good record: where the next frame goes. */
  end: number;
  /** A torn final record found in the last segment, to be cut away by the caller. */
  torn: TornTail | null;
}

/**
 * Decodes `segments` (consecutive, oldest first) as `read` returns them. Throws WalError on anything but a torn final
 * record.
 */
export function decodeLog(segments: readonly SegmentName[], read: SegmentReader, opts: DecodeOptions): DecodedLog {
  if (segments.length === 0) throw new WalError('NotFound', 'There are no segments to read');
  const { start } = opts;
  let metadata: WalMetadata | null = null;
  let hardState = emptyHardState();
  const entries: Entry[] = [];
  const snapshots: WalSnapshot[] = [];
  let lastIndex = start.index;
  let matched = false;
  // The first segment ever written starts the chain at 0; a later first segment (older ones purged) seeds it.
  let crc: number | null = segments[0].seq === 0 ? 0 : null;
  let end = 0;
  let torn: TornTail | null = null;

  for (let i = 0; i < segments.length; i++) {
    const file = segments[i].name;
    const corrupt = (what: string, offset: number, err: unknown): WalError =>
      new WalError('Corrupt', `${file}: malformed ${what} record at offset ${offset}: ${String(err)}`, { file, offset });
    // Each record is handled as soon as the scan has verified it, rather than all of a segment's records gathered
    // first: a restart reads tens of thousands of them, and records that die young cost the collector nothing.
    const onRecord = (type: RecordType, data: Uint8Array, offset: number): void => {
      switch (type) {
        case RecordType.Metadata: {
          let m: WalMetadata;
          try {
            m = decodeMetadata(data);
          } catch (err) {
            throw corrupt('metadata', offset, err);
          }
          if (metadata !== null && !sameMetadata(metadata, m)) {
            throw new WalError('MetadataConflict', `${file}: metadata at offset ${offset} names node ` +
              `${m.nodeId} of cluster ${m.clusterId}, but the log began as node ${metadata.nodeId} of cluster ` +
              `${metadata.clusterId}`, { file, offset });
          }
          metadata = m;
          break;
        }
        case RecordType.Entry: {
          if (!opts.entries) break;
          let e: Entry;
          try {
            e = decodeEntry(data);
          } catch (err) {
            throw corrupt('entry', offset, err);
          }
          if (e.index <= start.index) break;
          const pos = e.index - start.index - 1;
          if (pos > entries.length) {
            throw new WalError('IndexGap', `${file}: entry at offset ${offset} has index ${e.index}, but the ` +
              `log so far ends at index ${start.index + entries.length}`, { file, offset });
          }
          entries.length = pos;
          entries.push(e);
          lastIndex = e.index;
          break;
        }
        case RecordType.State:
          try {
            hardState = decodeHardState(data);
          } catch (err) {
            throw corrupt('hard state', offset, err);
          }
          break;
        case RecordType.Snapshot: {
          let s: WalSnapshot;
          try {
            s = decodeWalSnapshot(data);
          } catch (err) {
            throw corrupt('snapshot', offset, err);
          }
          if (s.index === start.index) {
            if (s.term !== start.term) {
              throw new WalError('SnapshotMismatch', `${file}: snapshot marker at offset ${offset} has term ` +
                `${s.term} for index ${s.index}, expected term ${start.term}`, { file, offset });
            }
            matched = true;
          }
          snapshots.push(s);
          break;
        }
        case RecordType.Crc:
          break;
      }
    };
    const got = read(segments[i]);
    const isLast = i === segments.length - 1;
    const scan = got instanceof Uint8Array
      ? scanSegment(file, got, crc, isLast, undefined, onRecord)
      : scanSegment(file, got.bytes, crc, isLast, got.dataEnd, onRecord);
    crc = scan.crc;
    end = scan.end;
    torn = scan.torn;
  }

  if (metadata === null) throw new WalError('Corrupt', `${segments[0].name}: no metadata record`);
  if (opts.entries && !matched) {
    throw new WalError('SnapshotNotFound', `No snapshot marker for index ${start.index} term ${start.term} in ` +
      `segments ${segments[0].name} to ${segments[segments.length - 1].name}`);
  }
  return { metadata, hardState, entries, snapshots, lastIndex, crc: crc ?? 0, end, torn };
}
