// Replays etcd's confchange scenario files. Commands, each taking changes as input (vN: make N a voter, lN: make N a
// learner, rN: remove N, uN: update N):
//   simple                        a simple change
//   enter-joint [autoleave=bool]  enter a joint configuration
//   leave-joint                   leave it (no input)
// Each prints the configuration and the progress map, or the error. The changer's last index grows by one per
// command, which shows in the `next` of newly added peers.

import * as fs from 'fs';
import * as path from 'path';

import { Changer, ConfChangeError } from '../../raft/confchange/confchange';
import { TestData, getBool, parseFile } from '../../raft/rafttest/datadriven';
import { ProgressMap } from '../../raft/tracker/progress';
import { Config, ProgressTracker } from '../../raft/tracker/tracker';
import { ConfChangeSingle, ConfChangeType } from '../../raft/types';
import { firstFailure, runFile, walk } from '../support/datadriven_file';

const DIR = path.join(__dirname, '..', '..', 'raft', 'testdata', 'etcd', 'confchange');

const TYPES: Record<string, ConfChangeType> = {
  v: ConfChangeType.ConfChangeAddNode,
  l: ConfChangeType.ConfChangeAddLearnerNode,
  r: ConfChangeType.ConfChangeRemoveNode,
  u: ConfChangeType.ConfChangeUpdateNode,
};

function handler(): (d: TestData) => string {
  const c = new Changer(new ProgressTracker(10, 0), 0);
  const run = (d: TestData): string => {
    const ccs: ConfChangeSingle[] = [];
    const input = d.input.trim();
    for (const tok of input === '' ? [] : input.split(' ')) {
      if (tok.length < 2) return `unknown token ${tok}`;
      const type = TYPES[tok[0]];
      if (type === undefined) return `unknown input: ${tok}`;
      if (!/^\d+$/.test(tok.slice(1))) return `invalid node ID in ${tok}`;
      ccs.push({ type, nodeId: Number(tok.slice(1)) });
    }
    let result: [Config, ProgressMap];
    try {
      switch (d.cmd) {
        case 'simple':
          result = c.simple(...ccs);
          break;
        case 'enter-joint':
          result = c.enterJoint(d.cmdArgs.length > 0 ? getBool(d.cmdArgs, 'autoleave') : false, ...ccs);
          break;
        case 'leave-joint':
          if (ccs.length > 0) return 'this command takes no input\n';
          result = c.leaveJoint();
          break;
        default:
          return 'unknown command';
      }
    } catch (e) {
      if (e instanceof ConfChangeError) return `${e.message}\n`;
      throw e;
    }
    [c.tracker.config, c.tracker.progress] = result;
    return `${c.tracker.config.toString()}\n${c.tracker.progress.toString()}`;
  };
  return (d) => {
    try {
      return run(d);
    } finally {
      c.lastIndex++;
    }
  };
}

describe('confchange scenario files', () => {
  const files = walk(DIR);

  test('are present', () => {
    expect(files.length).toBe(9);
  });

  test.each(files.map((f) => [path.basename(f), f]))('%s replays byte for byte', (_name, file) => {
    const { results } = runFile(file, handler());
    expect(firstFailure(results)).toBeNull();
    expect(results.length).toBe(parseFile(fs.readFileSync(file, 'utf8'), file).length);
  });
});
