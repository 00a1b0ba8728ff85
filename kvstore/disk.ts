// # A member's data directory
//
//   <data-dir>/members.json   the membership known when the member was created (initial cluster, or the join reply)
//   <data-dir>/snap/          snapshot files (snap/)
//   <data-dir>/wal/           the write-ahead log (wal/), whose metadata names the member and the cluster
//
// On restart the node rebuilds MemoryStorage exactly as it was: the newest snapshot the WAL vouches for (a marker
// at or below the last commit index), then the HardState and the entries the WAL holds after it. Applying the log
// again from that snapshot rebuilds the key-value map and the membership, so nothing else needs to be stored.

import path from 'node:path';
import { Logger } from '../raft/logger';
import { MemoryStorage } from '../raft/storage';
import { Entry, HardState, Snapshot, emptySnapshot, isEmptyHardState, isEmptySnapshot } from '../raft/types';
import { SnapError, Snapshotter } from '../snap/snapshotter';
import { describeDisk, durableFs, errorMessage, isDiskFull, mkdirAll, writeFileAtomic } from '../wal/fileutil';
import { Wal, WalSnapshot, emptyWalSnapshot, walSnapshotOf } from '../wal/wal';
import { KvError } from './errors';
import { Member, Membership, parseMembershipJSON } from './members';
import { NodeStart, Persistence } from './node';

/** Who this member is, as stored in its data directory. */
export interface MemberMeta {
  id: number;
  /** Hexadecimal, at most 12 digits (the WAL stores it as a number). */
  clusterId: string;
  members: Member[];
}

const walDir = (dataDir: string): string => path.join(dataDir, 'wal');
const snapDir = (dataDir: string): string => path.join(dataDir, 'snap');
const membersFile = (dataDir: string): string => path.join(dataDir, 'members.json');

/** Tuning of a member's files. */
export interface DiskOptions {
  /** WAL segment size in bytes (wal/'s default, 64 MiB, when absent); each segment is allocated whole when cut. */
  segmentSize?: number;
}

/** Whether the directory already holds a member (a WAL). */
export function diskExists(dataDir: string): boolean {
  return Wal.exists(walDir(dataDir));
}

/** Creates the data directory of a new member. The members file is written first: a WAL implies it exists. */
export function createDisk(dataDir: string, meta: MemberMeta, logger: Logger, options: DiskOptions = {}): NodeStart {
  const dfs = durableFs();
  mkdirAll(dfs, snapDir(dataDir));
  const file = membersFile(dataDir);
  try {
    writeFileAtomic(dfs, file, Buffer.from(JSON.stringify({ members: meta.members, removed: [] }, null, 2)));
  } catch (err) {
    const disk = isDiskFull(err) ? `: ${describeDisk(dataDir)} is full` : '';
    throw new KvError('Internal', `Writing ${file} failed (${errorMessage(err)})${disk}`);
  }
  const wal = Wal.create(walDir(dataDir), { nodeId: meta.id, clusterId: Number.parseInt(meta.clusterId, 16) }, { ...options, logger });
  return {
    storage: new MemoryStorage(),
    persistence: new DiskPersistence(wal, new Snapshotter(snapDir(dataDir), logger)),
    snapshot: emptySnapshot(),
    members: new Membership(meta.members),
    bootstrap: [],
  };
}

/** Opens an existing member's directory and rebuilds its storage. */
export function openDisk(dataDir: string, logger: Logger, options: DiskOptions = {}): { meta: MemberMeta; start: NodeStart } {
  const snapshotter = new Snapshotter(snapDir(dataDir), logger);
  // The WAL is locked before anything is read, and each segment read once: its markers pick the snapshot, and the
  // replay from that snapshot reuses the bytes. A member with no snapshot file has nothing to pick: it starts from
  // the empty snapshot whatever its markers say, and its replay reads every segment anyway, so the pass over the
  // markers is skipped (it decodes the whole log a second time: a tenth of the CPU of starting with 8,000 entries).
  let snapshot = emptySnapshot();
  const wal =
    snapshotter.snapNames().length === 0
      ? Wal.open(walDir(dataDir), emptyWalSnapshot(), { ...options, logger })
      : Wal.openNewest(walDir(dataDir), (valid) => {
          snapshot = newestSnapshot(snapshotter, valid);
          return walSnapshotOf(snapshot);
        }, { ...options, logger });
  try {
    const { metadata, hardState, entries } = wal.readAll();
    checkReachesCommit(dataDir, snapshot, hardState, entries);
    const storage = new MemoryStorage();
    if (!isEmptySnapshot(snapshot)) storage.applySnapshot(snapshot);
    if (!isEmptyHardState(hardState)) storage.setHardState(hardState);
    storage.append(entries);
    const seed = readMembers(membersFile(dataDir));
    return {
      meta: { id: metadata.nodeId, clusterId: metadata.clusterId.toString(16), members: seed },
      start: { storage, persistence: new DiskPersistence(wal, snapshotter), snapshot, members: new Membership(seed), bootstrap: [] },
    };
  } catch (err) {
    wal.close();
    throw err;
  }
}

// The log a restart rebuilds must reach the commit index the WAL recorded: a hard state is written after the entries
// (or the snapshot marker) it commits, so it never gets ahead of them on its own. It does when the newest snapshot file
// was damaged and an older one stood in for it: the older snapshot plus the log cannot rebuild a snapshot received
// from a leader, and starting anyway would forget what this member acknowledged. Refuse, naming the damaged files.
function checkReachesCommit(dataDir: string, snapshot: Snapshot, hardState: HardState, entries: Entry[]): void {
  const last = entries.length > 0 ? entries[entries.length - 1].index : snapshot.metadata.index;
  if (hardState.commit <= last) return;
  const dir = snapDir(dataDir);
  const damaged = durableFs().readdirSync(dir).filter((f) => f.includes('.snap.broken')).map((f) => path.join(dir, f));
  throw new KvError('Corrupt', `Data directory ${dataDir} cannot be recovered: its WAL commits index ${hardState.commit}, ` +
    `but the newest usable snapshot (index ${snapshot.metadata.index}) and the log after it reach only index ${last}` +
    (damaged.length > 0 ? `; damaged snapshot files: ${damaged.join(', ')}` : ''));
}

// The newest snapshot file the WAL has a marker for; none at all (a young member) means starting from the empty one.
function newestSnapshot(snapshotter: Snapshotter, valid: WalSnapshot[]): Snapshot {
  try {
    return snapshotter.loadNewestAvailable(valid);
  } catch (err) {
    if (err instanceof SnapError && err.code === 'NoSnapshot') return emptySnapshot();
    throw err;
  }
}

class DiskPersistence implements Persistence {
  constructor(
    private readonly wal: Wal,
    private readonly snapshotter: Snapshotter,
  ) {}

  saveSnapshot(snap: Snapshot): void {
    this.snapshotter.saveSnap(snap);
    this.recordSnapshot(snap);
  }

  async writeSnapshotFile(snap: Snapshot, pause: () => Promise<void>): Promise<void> {
    await this.snapshotter.saveSnapInSlices(snap, pause);
  }

  recordSnapshot(snap: Snapshot): void {
    this.wal.saveSnapshot(walSnapshotOf(snap));
  }

  write(hardState: HardState, entries: Entry[]): void {
    this.wal.save(hardState, entries, false);
  }

  // The fdatasync runs in libuv's thread pool, so requests and peer messages are read while the disk works, unless
  // the loop asks for it on its own thread. A failure then rejects the promise, as it would from the pool.
  sync(onLoopThread = false): Promise<void> {
    if (!onLoopThread) return this.wal.syncAsync();
    try {
      this.wal.sync();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // Segments wholly before the snapshot are no longer needed to restart; keep one extra for inspection.
  release(snap: Snapshot): void {
    this.wal.releaseLockTo(snap.metadata.index);
    this.wal.purgeSegments(1);
    this.snapshotter.purge(2);
  }

  // A sync still running when the node stops is not waited for: close syncs the WAL itself.
  close(): void {
    this.wal.close();
  }
}

function readMembers(file: string): Member[] {
  let text: string;
  try {
    text = durableFs().readFileSync(file).toString('utf8');
  } catch (err) {
    throw new KvError('Corrupt', `Cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return parseMembershipJSON(JSON.parse(text)).members;
  } catch (err) {
    throw new KvError('Corrupt', `${file} is not a membership file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

