// # Replaying etcd's confchange scenarios
//
// Commands, each taking changes as input (vN: make N a voter, lN: make N a learner, rN: remove N, uN: update N):
//   simple                        a simple change
//   enter-joint [autoleave=bool]  enter a joint configuration
//   leave-joint                   leave it (no input)
// Each prints the configuration and the progress map, or the error. The changer's last index grows by one per
// command, which shows in the `next` of newly added peers.

import { Changer, ConfChangeError } from '../confchange/confchange';
import { ProgressMap } from '../tracker/progress';
import { Config, ProgressTracker } from '../tracker/tracker';
import { ConfChangeSingle, ConfChangeType } from '../types';
import { TestData, getBool } from './datadriven';

const TYPES: Record<string, ConfChangeType> = {
  v: ConfChangeType.ConfChangeAddNode,
  l: ConfChangeType.ConfChangeAddLearnerNode,
  r: ConfChangeType.ConfChangeRemoveNode,
  u: ConfChangeType.ConfChangeUpdateNode,
};

/**
 * A fresh harness for one confchange scenario file: a changer over an empty configuration, whose last index grows
 * by one per command.
 */
export function confChangeHandler(): (d: TestData) => string {
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
