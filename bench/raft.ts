// # The RawNode benchmark
//
// etcd measures its core with one loop: propose the three bytes "foo", then handle Readys until that entry is
// applied. Storage is a MemoryStorage, so what is timed is the core itself: building Readys, tracking progress,
// committing. Two cases: a lone voter, and two voters where the second is a stub that grants every vote and
// acknowledges every append at once.
//
// Both cases take two Readys per proposal, as etcd's main branch does: the leader acknowledges its own entry only
// once the Ready that persists it is handled (its MsgAppResp is stepped by advance()), so the commit, and the entry
// to apply, come out in the next Ready. (etcd releases before the asynchronous-storage rework acknowledged at once
// and needed one Ready; etcd's conformance output fixes the two-Ready behaviour, so tsraft keeps it.)
//
// The machine this runs on is shared and noisy, so each case runs several times and reports the median, next to a
// baseline measured in the same run: the same number of appends into a MemoryStorage with no consensus at all.
// The ratio to that floor is the figure to compare between runs; absolute nanoseconds drift with the neighbours.
// Both wall-clock and CPU time are reported; the CPU figures (cpuNsPerOp, cpuRatioToBaseline) suffer less when other
// processes compete for the cores.

import { checkArgs } from './harness';
import { RawNode } from '../raft/rawnode';
import { MemoryStorage } from '../raft/storage';
import { Message, MessageType, newEntry, newMessage, isEmptyHardState } from '../raft/types';

interface CaseResult {
  /** Wall-clock time per proposal. */
  nsPerOp: number;
  /** CPU time per proposal (user + system): less sensitive to other processes on a shared machine. */
  cpuNsPerOp: number;
  readyPerOp: number;
}

const PAYLOAD = new Uint8Array([0x66, 0x6f, 0x6f]);

/** The fake second voter: answers a vote request with a grant and an append with an acknowledgement of its tail. */
function stubResponse(m: Message): Message | null {
  if (m.type === MessageType.MsgVote) {
    return newMessage({ type: MessageType.MsgVoteResp, to: m.from, from: m.to, term: m.term });
  }
  if (m.type === MessageType.MsgApp) {
    const last = m.entries.length > 0 ? m.entries[m.entries.length - 1].index : m.index;
    return newMessage({ type: MessageType.MsgAppResp, to: m.from, from: m.to, term: m.term, index: last });
  }
  return null;
}

function runRawNode(voters: number[], proposals: number): CaseResult {
  const storage = new MemoryStorage();
  storage.applySnapshot({
    data: new Uint8Array(0),
    metadata: {
      index: 1,
      term: 1,
      confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  });
  const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, maxSizePerMsg: 4096, maxInflightMsgs: 256 });
  let readies = 0;

  // The application's half of the Ready contract, reduced to its essentials: persist, "send", apply, advance.
  const stabilize = (): number => {
    let applied = 0;
    while (node.hasReady()) {
      readies++;
      const rd = node.ready();
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      if (rd.entries.length > 0) storage.append(rd.entries);
      for (const m of rd.messages) {
        const resp = stubResponse(m);
        if (resp !== null) node.step(resp);
      }
      if (rd.committedEntries.length > 0) applied = rd.committedEntries[rd.committedEntries.length - 1].index;
      node.advance();
    }
    return applied;
  };

  node.campaign();
  stabilize();
  readies = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < proposals; i++) {
    node.propose(PAYLOAD);
    const applied = stabilize();
    if (applied === 0) throw new Error(`Proposal ${i} was not applied in the same round`);
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuStart);
  const cpuNs = (cpu.user + cpu.system) * 1000;
  return { nsPerOp: elapsed / proposals, cpuNsPerOp: cpuNs / proposals, readyPerOp: readies / proposals };
}

/** The floor: append one entry per operation to a MemoryStorage, with no Raft involved. Wall and CPU time per op. */
function runBaseline(proposals: number): { nsPerOp: number; cpuNsPerOp: number } {
  const storage = new MemoryStorage();
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 1; i <= proposals; i++) {
    storage.append([newEntry({ term: 1, index: i, data: PAYLOAD })]);
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuStart);
  return { nsPerOp: elapsed / proposals, cpuNsPerOp: ((cpu.user + cpu.system) * 1000) / proposals };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function main(): void {
  checkArgs(process.argv.slice(2), 'node dist/bench/raft.js (no flags)', []);
  const proposals = Number(process.env.BENCH_PROPOSALS ?? 200_000);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const cases: Array<{ name: string; voters: number[] }> = [
    { name: 'rawnode/single-voter', voters: [1] },
    { name: 'rawnode/two-voters', voters: [1, 2] },
  ];
  // One warm-up pass per case lets the JIT settle before anything is timed.
  runBaseline(Math.min(proposals, 20_000));
  for (const c of cases) runRawNode(c.voters, Math.min(proposals, 20_000));

  const baselines: Array<{ nsPerOp: number; cpuNsPerOp: number }> = [];
  const results = new Map<string, CaseResult[]>();
  for (let run = 0; run < runs; run++) {
    baselines.push(runBaseline(proposals));
    for (const c of cases) {
      const r = runRawNode(c.voters, proposals);
      const list = results.get(c.name) ?? [];
      list.push(r);
      results.set(c.name, list);
      console.log(
        `run ${run + 1}/${runs} ${c.name}: ${r.nsPerOp.toFixed(0)} ns/op wall, ${r.cpuNsPerOp.toFixed(0)} ns/op cpu, ` +
          `${r.readyPerOp.toFixed(2)} ready/op`,
      );
    }
  }
  const baseline = median(baselines.map((b) => b.nsPerOp));
  const baselineCpu = median(baselines.map((b) => b.cpuNsPerOp));
  console.log(
    `baseline memorystorage/append: ${baseline.toFixed(0)} ns/op wall, ${baselineCpu.toFixed(0)} ns/op cpu ` +
      `(median of ${runs})`,
  );
  for (const c of cases) {
    const list = results.get(c.name) ?? [];
    const nsPerOp = median(list.map((r) => r.nsPerOp));
    const cpuNsPerOp = median(list.map((r) => r.cpuNsPerOp));
    const readyPerOp = median(list.map((r) => r.readyPerOp));
    console.log(
      JSON.stringify({
        bench: c.name,
        nsPerOp: Math.round(nsPerOp),
        cpuNsPerOp: Math.round(cpuNsPerOp),
        readyPerOp: Number(readyPerOp.toFixed(2)),
        proposals,
        runs,
        baselineNsPerOp: Math.round(baseline),
        ratioToBaseline: Number((nsPerOp / baseline).toFixed(2)),
        // The CPU ratio is the steadier of the two when other processes compete for the cores.
        baselineCpuNsPerOp: Math.round(baselineCpu),
        cpuRatioToBaseline: Number((cpuNsPerOp / baselineCpu).toFixed(2)),
      }),
    );
  }
}

main();
