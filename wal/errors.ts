// # WAL errors
//
// Every failure of the write-ahead log is a `WalError`. Its `code` says what kind of failure it is, so a caller can
// tell "someone else holds this directory" from "this log is damaged and must not be trusted". When the failure is a
// damaged record, the error also carries the file, the byte offset and the CRCs involved, because an operator
// deciding what to do with a refused log needs exactly those facts.

/** What went wrong, as a closed set a caller can switch on. */
export type WalErrorCode =
  /** `Wal.create` found a WAL already in the directory. */
  | 'Exists'
  /** No segment file to open, or none that covers the requested snapshot. */
  | 'NotFound'
  /** Another process (or another open `Wal` in this one) holds the directory's lock. */
  | 'Locked'
  /** A record's stored CRC differs from the CRC computed over the chain up to it. */
  | 'CrcMismatch'
  /** A record that cannot be parsed: a bad length word, an unknown type, a bad header, garbage after the end. */
  | 'Corrupt'
  /** Entries skip an index: the log is not contiguous. */
  | 'IndexGap'
  /** Segment sequence numbers are not consecutive: a segment file is missing. */
  | 'MissingSegment'
  /** The snapshot the caller opened at is not recorded in the WAL. */
  | 'SnapshotNotFound'
  /** The WAL records the snapshot's index with a different term. */
  | 'SnapshotMismatch'
  /** Two segments disagree on the node and cluster identity. */
  | 'MetadataConflict'
  /** An fdatasync failed: what reached the disk is unknown, so the WAL refuses further appends and syncs. */
  | 'SyncFailed'
  /** A write, allocation, truncation or rename failed (a full disk): the WAL refuses further appends and syncs. */
  | 'WriteFailed'
  /** The call is not valid in the WAL's current state (e.g. `save` before `readAll`, or after `close`). */
  | 'InvalidState';

/** Where in the log a damaged record was found, and the CRCs that disagree. */
export interface WalErrorDetail {
  file?: string;
  offset?: number;
  expectedCrc?: number;
  actualCrc?: number;
}

/** The one error class of the WAL module. */
export class WalError extends Error {
  override name = 'WalError';
  readonly code: WalErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;
  readonly expectedCrc: number | undefined;
  readonly actualCrc: number | undefined;

  constructor(code: WalErrorCode, message: string, detail: WalErrorDetail = {}) {
    super(message);
    this.code = code;
    this.file = detail.file;
    this.offset = detail.offset;
    this.expectedCrc = detail.expectedCrc;
    this.actualCrc = detail.actualCrc;
  }
}

/** Formats a CRC the way the messages print it: 8 hex digits. */
export function hexCrc(crc: number): string {
  return `0x${(crc >>> 0).toString(16).padStart(8, '0')}`;
}
