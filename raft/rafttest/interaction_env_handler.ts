// # Dispatching scenario commands
//
// Each command of an interaction scenario names a handler here. A handler prints what it observes into the
// environment's output; the output of a command (or "ok" when it printed nothing) is what the scenario file
// records after `----`. Errors the core returns (a dropped proposal, a refused message) are part of the expected
// output; a malformed scenario is not, and fails the run with an InteractionError.

import { RaftPanic } from '../logger';
import { CmdArg, DataDrivenError, TestData, parseLine } from './datadriven';
import { InteractionError } from './interaction_env_args';
import { InteractionEnv } from './interaction_env';
import { handleAddNodes } from './interaction_env_handler_add_nodes';
import {
  handleCampaign,
  handleCompact,
  handleForgetLeader,
  handlePropose,
  handleProposeConfChange,
  handleReadIndex,
  handleReportUnreachable,
  handleSetRandomizedElectionTimeout,
  handleTick,
  handleTickElection,
  handleTickHeartbeat,
  handleTransferLeadership,
} from './interaction_env_handler_drive';
import { handleLogLevel, handleRaftLog, handleRaftState, handleStatus } from './interaction_env_handler_inspect';
import { handleDeliverMsgs, handleSendSnapshot } from './interaction_env_handler_messages';
import {
  handleProcessAppendThread,
  handleProcessApplyThread,
  handleProcessReady,
  handleStabilize,
} from './interaction_env_handler_process';

type Handler = (env: InteractionEnv, args: CmdArg[]) => void;

const handlers: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  // A no-op to hang a debugger breakpoint on while investigating a long scenario.
  ['_breakpoint', () => undefined],
  ['add-nodes', handleAddNodes],
  ['campaign', handleCampaign],
  ['compact', handleCompact],
  ['deliver-msgs', handleDeliverMsgs],
  ['forget-leader', handleForgetLeader],
  ['log-level', handleLogLevel],
  ['process-append-thread', handleProcessAppendThread],
  ['process-apply-thread', handleProcessApplyThread],
  ['process-ready', handleProcessReady],
  ['propose', handlePropose],
  ['raft-log', handleRaftLog],
  ['raft-state', handleRaftState],
  ['read-index', handleReadIndex],
  ['report-unreachable', handleReportUnreachable],
  ['send-snapshot', handleSendSnapshot],
  ['set-randomized-election-timeout', handleSetRandomizedElectionTimeout],
  ['stabilize', handleStabilize],
  ['status', handleStatus],
  ['tick', handleTick],
  ['tick-election', handleTickElection],
  ['tick-heartbeat', handleTickHeartbeat],
  ['transfer-leadership', handleTransferLeadership],
]);

// Errors that belong in the expected output: whatever the core or storage reports, and unknown commands. Panics
// and malformed scenarios propagate and fail the run.
function isReportable(err: unknown): err is Error {
  return (
    err instanceof Error &&
    !(err instanceof RaftPanic) &&
    !(err instanceof InteractionError) &&
    !(err instanceof DataDrivenError)
  );
}

function runSingle(env: InteractionEnv, cmd: string, args: CmdArg[]): void {
  const handler = handlers.get(cmd);
  if (handler === undefined) {
    throw new Error('unknown command');
  }
  handler(env, args);
}

/**
 * Runs one scenario command and returns its output, "ok" if it printed nothing. `propose-conf-change` reads its
 * input as the changes to propose; any other command treats each input line as one more command to run after it.
 */
export function handle(env: InteractionEnv, d: TestData): string {
  env.output.reset();
  let failure: Error | null = null;
  try {
    if (d.cmd === 'propose-conf-change') {
      handleProposeConfChange(env, d.cmdArgs, d.input);
    } else {
      runSingle(env, d.cmd, d.cmdArgs);
      for (const line of d.input.split('\n').filter((l) => l.trim() !== '')) {
        const { cmd, cmdArgs } = parseLine(line);
        try {
          runSingle(env, cmd, cmdArgs);
        } catch (err) {
          if (!isReportable(err) || env.output.quiet()) {
            throw err;
          }
          env.output.write(err.message);
        }
      }
    }
  } catch (err) {
    if (!isReportable(err)) {
      throw err;
    }
    failure = err;
  }
  // The quietest level silences everything but an error, which is then the whole output.
  if (failure !== null) {
    if (env.output.quiet()) {
      return failure.message;
    }
    env.output.write(failure.message);
  }
  return env.output.length === 0 ? 'ok' : env.output.toString();
}
