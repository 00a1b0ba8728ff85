// The interaction harness itself: how it reports errors, quiet output, multi-command input, empty work and
// malformed scenarios, and how the conformance runner counts files. etcd's scenario files cover the normal paths.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { replayAll, runScenario } from '../../raft/rafttest/conformance';

// Runs an inline scenario (commands with their expected outputs) and returns each case's actual output.
function outputs(text: string): string[] {
  return runScenario(text, 'inline.txt').results.map((r) => r.actual);
}

const boot = `
log-level none
add-nodes 2 voters=(1,2) index=10
----
ok
`;

describe('interaction harness', () => {
  test('runs the input lines of a command as further commands', () => {
    const text = `
log-level none
add-nodes 1 voters=(1) index=2
campaign 1
stabilize
log-level info
raft-state
----
1: StateLeader (Voter) Term:1 Lead:1
`;
    expect(outputs(text)).toEqual(['1: StateLeader (Voter) Term:1 Lead:1\n']);
  });

  test('prints "ok" for a command without output, and an unknown command as an error', () => {
    expect(outputs(`${boot}\nfrobnicate 1\n----\nunknown command\n`)).toEqual(['ok\n', 'unknown command\n']);
  });

  test('shows only the error when the output is quiet', () => {
    // Without a leader, a follower drops the proposal; its debug line is silenced but the error is not.
    expect(outputs(`${boot}\npropose 1 foo\n----\nraft proposal dropped\n`)[1]).toBe('raft proposal dropped\n');
  });

  test('reports the core logging around an error when not quiet', () => {
    const text = `${boot}\nlog-level debug\n----\nok\n\npropose 1 foo\n----\n`;
    expect(outputs(text)[2]).toBe('INFO 1 no leader at term 0; dropping proposal\nraft proposal dropped\n');
  });

  test('says when there is nothing to deliver or no storage work', () => {
    const text = `${boot}\nlog-level info\n----\nok\n\ndeliver-msgs 1\n----\n\nprocess-append-thread 1\n----\n`;
    expect(outputs(text).slice(2)).toEqual(['no messages\n', 'no append work to perform\n']);
  });

  test('prints the storage of a node without a log', () => {
    const text = `add-nodes 1\n----\n\nraft-log 1\n----\n`;
    expect(outputs(text)[1]).toBe('log is empty: first index=1, last index=0\n');
  });

  test('rejects a bootstrap snapshot at index 1', () => {
    expect(outputs(`add-nodes 1 voters=(1) index=1\n----\n`)).toEqual([
      'index must be specified as > 1 due to bootstrap\n',
    ]);
  });

  test('rejects a v1 configuration change with several operations', () => {
    const text = `${boot}\npropose-conf-change 1 v1=true\nv3 v4\n----\n`;
    expect(outputs(text)[1]).toBe('v1 conf change can only have one operation and no transition\n');
  });

  test('names the valid log levels', () => {
    expect(outputs('log-level loud\n----\n')).toEqual([
      'log levels must be either of [DEBUG INFO WARN ERROR FATAL NONE]\n',
    ]);
  });

  test('puts the output of each node under a banner when several are named', () => {
    const text = `${boot}\nlog-level info\n----\nok\n\nprocess-ready 1 2\n----\n`;
    expect(outputs(text)[2]).toBe('> 1 handling Ready\n  <empty Ready>\n> 2 handling Ready\n  <empty Ready>\n');
  });

  test('queues a snapshot message with send-snapshot', () => {
    const text = `${boot}\nlog-level info\n----\nok\n\nsend-snapshot 1 2\n----\n\ndeliver-msgs drop=(2)\n----\n`;
    const snap =
      '1->2 MsgSnap Term:0 Log:0/0\n' +
      '  Snapshot: Index:10 Term:1 ConfState:Voters:[1 2] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false\n';
    expect(outputs(text).slice(2)).toEqual([snap, `dropped: ${snap}`]);
  });

  test('prints "panic" where the core panics, keeps the reason, and runs nothing after it', () => {
    const dir = path.join(__dirname, '..', '..', 'raft', 'testdata', 'etcd-random', 'panics');
    const file = path.join(dir, 'scan_unapplied_after_compaction.txt');
    const text = fs.readFileSync(file, 'utf8') + '\nraft-state\n----\nok\n';
    const run = runScenario(text, file);
    const last = run.results.length - 1;
    expect(run.results[last - 1].actual).toBe('panic\n');
    expect(run.results[last - 1].passed).toBe(true);
    expect(run.failure).toBe(
      'RaftPanic: error scanning unapplied entries [8, 10): requested index is unavailable due to compaction',
    );
    expect(run.results[last].actual).toContain('not run');
    expect(run.rewritten).toBeNull();
  });

  // A scenario file can only say `panic`; the reason is checked here.
  test.each([
    [
      'apply_conf_change_removing_all_voters.txt',
      '1 cannot apply conf change transition:ConfChangeTransitionAuto ' +
        'changes:{type:ConfChangeRemoveNode node_id:1}: removed all voters',
    ],
    [
      'restore_invalid_conf_state.txt',
      'unable to restore config voters:1 learners:1 auto_leave:false: removed all voters',
    ],
    ['invalid_config.txt', 'max inflight messages must be greater than 0'],
  ])('panics in tsraft/panics/%s for the reason etcd does', (name, reason) => {
    const file = path.join(__dirname, '..', '..', 'raft', 'testdata', 'tsraft', 'panics', name);
    const run = runScenario(fs.readFileSync(file, 'utf8'), file);
    expect(run.results.every((r) => r.passed)).toBe(true);
    expect(run.failure).toBe(`RaftPanic: ${reason}`);
  });

  test('fails a malformed case and does not run the cases after it', () => {
    const results = runScenario(`campaign x\n----\nok\n\nraft-state\n----\nok\n`, 'inline.txt').results;
    expect(results.map((r) => r.passed)).toEqual([false, false]);
    expect(results[0].actual).toContain('expected an integer as the first argument');
    expect(results[1].actual).toContain('not run');
  });
});

describe('replayAll', () => {
  test('prints one line per file and counts files last', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsraft-conformance-'));
    try {
      fs.writeFileSync(path.join(dir, 'good.txt'), 'add-nodes 1\n----\nINFO 1 switched to configuration voters=()\n' +
        'INFO 1 became follower at term 0\n' +
        'INFO newRaft 1 [peers: [], term: 0, commit: 0, applied: 0, lastindex: 0, lastterm: 0]\n');
      fs.writeFileSync(path.join(dir, 'bad.txt'), 'raft-state\n----\nsomething else\n');
      const lines: string[] = [];
      const failed = replayAll([dir], (l) => lines.push(l));
      expect(failed).toBe(1);
      expect(lines[0]).toMatch(/^FAIL {2}bad\.txt +0\/1 cases$/);
      expect(lines[1]).toMatch(/^PASS {2}good\.txt +1\/1 cases$/);
      expect(lines[lines.length - 1]).toBe('1 passed, 1 failed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
