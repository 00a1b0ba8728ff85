// The persistence order of a snapshot — file, then WAL marker, then hard state — means a crash between any two
// steps restarts from a snapshot that both the snapshot directory and the WAL agree on.
import * as fs from 'fs';
import * as path from 'path';
import { SnapError, Snapshotter } from '../../snap/snapshotter';
import { Snapshot } from '../../raft/types';
import { Wal, walSnapshotOf, emptyWalSnapshot } from '../../wal/wal';
import { RecordingLogger } from '../support/recording_logger';
import { entryData, makeEntries, scratchDir } from '../wal/helpers';

const cs = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
function snapAt(index: number): Snapshot {
  return { data: entryData(index, 1, 64), metadata: { index, term: 1, confState: cs } };
}

/** The restart sequence a node runs: newest snapshot the WAL knows, then the WAL opened there. */
function restart(walDir: string, snapDir: string): { snapIndex: number; entries: number[]; commit: number } {
  let snap: Snapshot | null = null;
  try {
    snap = new Snapshotter(snapDir).loadNewestAvailable(Wal.validSnapshotEntries(walDir));
  } catch (err) {
    if (!(err instanceof SnapError) || err.code !== 'NoSnapshot') throw err;
  }
  const at = snap === null ? emptyWalSnapshot() : walSnapshotOf(snap);
  const w = Wal.open(walDir, at, { segmentSize: 64 * 1024, logger: new RecordingLogger() });
  const r = w.readAll();
  w.close();
  return { snapIndex: snap?.metadata.index ?? 0, entries: r.entries.map((e) => e.index), commit: r.hardState.commit };
}

let root: string;
beforeEach(() => {
  root = scratchDir('order');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test.each([
  ['after the snapshot file', 1, { snapIndex: 10, entries: range(11, 20), commit: 20 }],
  ['after the WAL marker', 2, { snapIndex: 10, entries: range(11, 20), commit: 20 }],
  ['after the hard state', 3, { snapIndex: 30, entries: [], commit: 30 }],
])('a crash %s restarts from a snapshot both sides agree on', (_, steps, want) => {
  const walDir = path.join(root, 'wal');
  const snapDir = path.join(root, 'snap');
  const snapper = new Snapshotter(snapDir);
  const w = Wal.create(walDir, { nodeId: 1, clusterId: 1 }, { segmentSize: 64 * 1024, logger: new RecordingLogger() });
  w.save({ term: 1, vote: 1, commit: 10 }, makeEntries(1, 20, 1), true);
  snapper.saveSnap(snapAt(10));
  w.saveSnapshot(walSnapshotOf(snapAt(10)));
  w.save({ term: 1, vote: 1, commit: 20 }, [], true);
  // A leader sends the snapshot at 30: this node's log ends at 20, so entries 21..30 never reach it.
  const incoming = snapAt(30);
  if (steps >= 1) snapper.saveSnap(incoming);
  if (steps >= 2) w.saveSnapshot(walSnapshotOf(incoming));
  if (steps >= 3) w.save({ term: 1, vote: 1, commit: 30 }, [], true);
  w.close();
  expect(restart(walDir, snapDir)).toEqual(want);
});

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
