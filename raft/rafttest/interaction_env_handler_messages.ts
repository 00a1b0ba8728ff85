// # Messages in flight
//
// Messages a node sends wait in the environment until a scenario delivers them to their recipient, or drops them
// to model a lossy network. Delivery order per recipient is the order they were sent; nothing is reordered.

import { describeMessage } from '../describe';
import { RaftError } from '../errors';
import { LocalAppendThread, LocalApplyThread } from '../config';
import { Message, MessageType, NodeId, newMessage } from '../types';
import { CmdArg } from './datadriven';
import { InteractionEnv } from './interaction_env';
import { InteractionError, nodeIdxs, parseUint } from './interaction_env_args';

/** Whose messages to hand over, and whether to drop rather than deliver them. */
export interface Recipient {
  id: NodeId;
  drop: boolean;
}

/**
 * `deliver-msgs 1 2 drop=(3) type=MsgApp`: delivers the pending messages to nodes 1 and 2 and drops those to
 * node 3, optionally only those of one type. Prints each message handled, and "no messages" if there was none.
 */
export function handleDeliverMsgs(env: InteractionEnv, args: CmdArg[]): void {
  let type: MessageType | null = null;
  const recipients: Recipient[] = [];
  for (const arg of args) {
    if (arg.vals.length === 0) {
      recipients.push({ id: parseUint('recipient', arg.key), drop: false });
    }
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'drop': {
          const id = parseUint(arg.key, val);
          if (recipients.some((r) => r.id === id)) {
            throw new InteractionError(`can't both deliver and drop msgs to ${id}`);
          }
          recipients.push({ id, drop: true });
          break;
        }
        case 'type': {
          const t: unknown = MessageType[val as keyof typeof MessageType];
          if (typeof t !== 'number') {
            throw new InteractionError(`unknown message type ${val}`);
          }
          type = t;
          break;
        }
        default:
          throw new InteractionError(`unknown deliver-msgs argument ${arg.key}`);
      }
    }
  }
  if (deliverMsgs(env, type, recipients) === 0) {
    env.output.write('no messages\n');
  }
}

/**
 * Delivers (or drops) the pending messages of each recipient, restricted to `type` unless it is null, printing
 * each one; a node refusing a message prints the reason. Returns how many messages were handled.
 */
export function deliverMsgs(env: InteractionEnv, type: MessageType | null, recipients: Recipient[]): number {
  let n = 0;
  for (const r of recipients) {
    const { matching, rest } = splitMsgs(env.messages, r.id, type, r.drop);
    env.messages = rest;
    n += matching.length;
    for (const m of matching) {
      if (r.drop) {
        env.output.write('dropped: ');
      }
      env.output.write(describeMessage(m) + '\n');
      // A message may be dropped before its recipient exists; only delivery needs the node.
      if (r.drop) {
        continue;
      }
      try {
        env.node(m.to - 1).rawNode.step(m);
      } catch (err) {
        if (!(err instanceof RaftError)) {
          throw err;
        }
        env.output.write(err.message + '\n');
      }
    }
  }
  return n;
}

function isLocalMsgTarget(id: NodeId): boolean {
  return id === LocalAppendThread || id === LocalApplyThread;
}

// Messages between a node and itself or its storage threads model reliable local hand-offs and are never dropped.
function isLocalMsg(m: Message): boolean {
  return m.from === m.to || isLocalMsgTarget(m.from) || isLocalMsgTarget(m.to);
}

/** Splits `msgs` into those for `to` (of `type`, unless null) and the rest, keeping the order of both. */
export function splitMsgs(
  msgs: Message[],
  to: NodeId,
  type: MessageType | null,
  drop: boolean,
): { matching: Message[]; rest: Message[] } {
  const matching: Message[] = [];
  const rest: Message[] = [];
  for (const m of msgs) {
    if (m.to === to && !(drop && isLocalMsg(m)) && (type === null || m.type === type)) {
      matching.push(m);
    } else {
      rest.push(m);
    }
  }
  return { matching, rest };
}

/** `send-snapshot 1 3`: queues a MsgSnap from node 1 to node 3 carrying node 1's latest applied state. */
export function handleSendSnapshot(env: InteractionEnv, args: CmdArg[]): void {
  const idxs = nodeIdxs(args);
  if (idxs.length !== 2) {
    throw new InteractionError('send-snapshot expects the sending and the receiving node');
  }
  const [fromIdx, toIdx] = idxs;
  const from = env.node(fromIdx);
  const m = newMessage({
    type: MessageType.MsgSnap,
    term: from.rawNode.basicStatus().term,
    from: fromIdx + 1,
    to: toIdx + 1,
    snapshot: from.storage.snapshot(),
  });
  env.messages.push(m);
  env.output.write(describeMessage(m));
}
