// The text forms of entries, messages and Ready structs, checked against lines of etcd's scenario files.

import { encodeConfChange, encodeConfChangeV2 } from '../../raft/codec';
import type { Ready } from '../../raft/rawnode';
import {
  describeConfChange,
  describeConfChanges,
  describeConfState,
  describeConfStateText,
  describeEntries,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
  describeSoftState,
  describeTarget,
  goQuote,
  parseConfChanges,
} from '../../raft/describe';
import { LocalAppendThread, LocalApplyThread } from '../../raft/config';
import {
  ConfChangeTransition,
  ConfChangeType,
  Entry,
  EntryType,
  MessageType,
  Snapshot,
  StateType,
  emptyHardState,
  emptySnapshot,
  newEntry,
  newMessage,
} from '../../raft/types';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function snapshot(index: number, term: number, voters: number[]): Snapshot {
  const s = emptySnapshot();
  s.metadata.index = index;
  s.metadata.term = term;
  s.metadata.confState.voters = voters;
  return s;
}

function v2Entry(term: number, index: number, changes: string): Entry {
  const data = encodeConfChangeV2({
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: parseConfChanges(changes),
    context: new Uint8Array(0),
  });
  return newEntry({ term, index, type: EntryType.EntryConfChangeV2, data });
}

describe('goQuote', () => {
  test('quotes printable ASCII as is', () => {
    expect(goQuote(bytes('prop_1_15'))).toBe('"prop_1_15"');
    expect(goQuote(new Uint8Array(0))).toBe('""');
  });

  test('backslashes quotes and backslashes', () => {
    expect(goQuote(bytes('a"b\\c'))).toBe('"a\\"b\\\\c"');
  });

  test('uses short escapes for common control characters and \\x for the others', () => {
    expect(goQuote(bytes('\n\t\r\x07\x08\x0c\x0b'))).toBe('"\\n\\t\\r\\a\\b\\f\\v"');
    expect(goQuote(Uint8Array.of(0x00, 0x1f, 0x7f))).toBe('"\\x00\\x1f\\x7f"');
  });

  test('keeps printable UTF-8 and escapes non-printable runes as \\u', () => {
    expect(goQuote(bytes('héllo ☃'))).toBe('"héllo ☃"');
    expect(goQuote(bytes('\u00a0\u200b'))).toBe('"\\u00a0\\u200b"');
    expect(goQuote(bytes('\u{e0001}'))).toBe('"\\U000e0001"');
  });

  test('escapes each byte of invalid UTF-8 as \\x', () => {
    expect(goQuote(Uint8Array.of(0xff, 0x61, 0xc3))).toBe('"\\xffa\\xc3"');
    // An overlong encoding of "/" and an encoded surrogate are invalid, byte by byte.
    expect(goQuote(Uint8Array.of(0xc0, 0xaf))).toBe('"\\xc0\\xaf"');
    expect(goQuote(Uint8Array.of(0xed, 0xa0, 0x80))).toBe('"\\xed\\xa0\\x80"');
  });
});

describe('describeEntry', () => {
  test('prints term/index, type and quoted data', () => {
    expect(describeEntry(newEntry({ term: 1, index: 11 }))).toBe('1/11 EntryNormal ""');
    expect(describeEntry(newEntry({ term: 1, index: 12, data: bytes('prop_1_12') }))).toBe(
      '1/12 EntryNormal "prop_1_12"',
    );
  });

  test('prints configuration changes in their compact form', () => {
    expect(describeEntry(v2Entry(1, 4, 'r1 v4'))).toBe('1/4 EntryConfChangeV2 r1 v4');
    expect(describeEntry(v2Entry(1, 6, ''))).toBe('1/6 EntryConfChangeV2');
    const v1 = encodeConfChange({
      type: ConfChangeType.ConfChangeRemoveNode,
      nodeId: 1,
      context: new Uint8Array(0),
      id: 0,
    });
    expect(describeEntry(newEntry({ term: 1, index: 4, type: EntryType.EntryConfChange, data: v1 }))).toBe(
      '1/4 EntryConfChange r1',
    );
  });

  test('uses a custom formatter for normal entries only', () => {
    const upper = (d: Uint8Array): string => new TextDecoder().decode(d).toUpperCase();
    expect(describeEntry(newEntry({ term: 2, index: 3, data: bytes('abc') }), upper)).toBe('2/3 EntryNormal ABC');
    expect(describeEntry(newEntry({ term: 2, index: 3 }), () => '')).toBe('2/3 EntryNormal');
  });

  test('describeEntries ends every entry with a newline', () => {
    expect(describeEntries([newEntry({ term: 1, index: 2 }), newEntry({ term: 1, index: 3 })])).toBe(
      '1/2 EntryNormal ""\n1/3 EntryNormal ""\n',
    );
    expect(describeEntries([])).toBe('');
  });
});

describe('configuration changes', () => {
  test('round-trip through the compact form', () => {
    const changes = parseConfChanges(' v2 l3 r4 u5 ');
    expect(changes).toEqual([
      { type: ConfChangeType.ConfChangeAddNode, nodeId: 2 },
      { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3 },
      { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 4 },
      { type: ConfChangeType.ConfChangeUpdateNode, nodeId: 5 },
    ]);
    expect(describeConfChanges(changes)).toBe('v2 l3 r4 u5');
    expect(parseConfChanges('')).toEqual([]);
  });

  test('reject malformed tokens', () => {
    expect(() => parseConfChanges('x3')).toThrow('unknown input: x3');
    expect(() => parseConfChanges('v')).toThrow('unknown token v');
    expect(() => parseConfChanges('vx')).toThrow('invalid syntax');
  });
});

describe('states and snapshots', () => {
  test('describeHardState omits an absent vote', () => {
    expect(describeHardState({ term: 1, vote: 1, commit: 10 })).toBe('Term:1 Vote:1 Commit:10');
    expect(describeHardState({ term: 1, vote: 0, commit: 11 })).toBe('Term:1 Commit:11');
  });

  test('describeSoftState names the role', () => {
    expect(describeSoftState({ lead: 0, raftState: StateType.StateCandidate })).toBe('Lead:0 State:StateCandidate');
  });

  test('describeConfState and describeSnapshot print every list', () => {
    const cs = { voters: [1, 2], learners: [3], votersOutgoing: [1], learnersNext: [], autoLeave: true };
    expect(describeConfState(cs)).toBe('Voters:[1 2] VotersOutgoing:[1] Learners:[3] LearnersNext:[] AutoLeave:true');
    expect(describeSnapshot(snapshot(11, 1, [1, 2, 3]))).toBe(
      'Index:11 Term:1 ConfState:Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false',
    );
  });

  test('describeConfStateText prints protobuf text: one field per ID in field order, auto_leave always', () => {
    const cs = { voters: [1, 2], learners: [3], votersOutgoing: [1], learnersNext: [4], autoLeave: true };
    expect(describeConfStateText(cs)).toBe(
      'voters:1 voters:2 learners:3 voters_outgoing:1 learners_next:4 auto_leave:true',
    );
    expect(describeConfStateText({ ...cs, voters: [], learners: [], votersOutgoing: [], learnersNext: [] })).toBe(
      'auto_leave:true',
    );
  });

  test('describeConfChange prints a V1 change in its V2 shape, with a context quoted as Go does', () => {
    const v1 = { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2, context: new Uint8Array(0), id: 7 };
    expect(describeConfChange(v1)).toBe(
      'transition:ConfChangeTransitionAuto changes:{type:ConfChangeRemoveNode node_id:2}',
    );
    const v2 = {
      transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
      changes: [
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 4 },
        { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 5 },
      ],
      context: new TextEncoder().encode('a"\n'),
    };
    expect(describeConfChange(v2)).toBe(
      'transition:ConfChangeTransitionJointExplicit changes:{type:ConfChangeAddNode node_id:4} ' +
        'changes:{type:ConfChangeAddLearnerNode node_id:5} context:"a\\"\\n"',
    );
  });
});

describe('describeMessage', () => {
  test('prints the fields that are set', () => {
    expect(describeMessage(newMessage({ type: MessageType.MsgVote, from: 1, to: 2, term: 1, logTerm: 1, index: 10 })))
      .toBe('1->2 MsgVote Term:1 Log:1/10');
    const app = newMessage({
      type: MessageType.MsgApp,
      from: 1,
      to: 3,
      term: 1,
      logTerm: 1,
      index: 10,
      commit: 10,
      entries: [newEntry({ term: 1, index: 11 })],
    });
    expect(describeMessage(app)).toBe('1->3 MsgApp Term:1 Log:1/10 Commit:10 Entries:[1/11 EntryNormal ""]');
    const reject = newMessage({
      type: MessageType.MsgAppResp,
      from: 2,
      to: 1,
      term: 1,
      index: 3,
      reject: true,
      rejectHint: 0,
    });
    expect(describeMessage(reject)).toBe('2->1 MsgAppResp Term:1 Log:0/3 Rejected (Hint: 0)');
  });

  test('prints node IDs in hexadecimal and names the storage threads', () => {
    expect(describeTarget(26)).toBe('1a');
    expect(describeTarget(0)).toBe('None');
    expect(describeTarget(LocalAppendThread)).toBe('AppendThread');
    expect(describeTarget(LocalApplyThread)).toBe('ApplyThread');
  });

  test('puts several entries on lines of their own', () => {
    const m = newMessage({
      type: MessageType.MsgApp,
      from: 2,
      to: 3,
      term: 2,
      logTerm: 1,
      index: 3,
      commit: 4,
      entries: [v2Entry(1, 4, 'v3'), newEntry({ term: 2, index: 5 })],
    });
    expect(describeMessage(m)).toBe(
      '2->3 MsgApp Term:2 Log:1/3 Commit:4 Entries:[\n  1/4 EntryConfChangeV2 v3\n  2/5 EntryNormal ""\n]',
    );
  });

  test('prints a snapshot on its own line', () => {
    const m = newMessage({ type: MessageType.MsgSnap, from: 1, to: 3, term: 1, snapshot: snapshot(11, 1, [1, 2, 3]) });
    expect(describeMessage(m)).toBe(
      '1->3 MsgSnap Term:1 Log:0/0\n' +
        '  Snapshot: Index:11 Term:1 ConfState:Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false',
    );
  });

  test('nests the responses of a storage message, one level deeper each', () => {
    const m = newMessage({
      type: MessageType.MsgStorageAppend,
      from: 1,
      to: LocalAppendThread,
      term: 1,
      commit: 10,
      vote: 1,
      responses: [newMessage({ type: MessageType.MsgVoteResp, from: 1, to: 1, term: 1 })],
    });
    expect(describeMessage(m)).toBe(
      '1->AppendThread MsgStorageAppend Term:1 Log:0/0 Commit:10 Vote:1 Responses:[\n' +
        '  1->1 MsgVoteResp Term:1 Log:0/0\n' +
        ']',
    );
  });
});

describe('describeReady', () => {
  const empty: Ready = {
    softState: null,
    hardState: emptyHardState(),
    readStates: [],
    entries: [],
    snapshot: emptySnapshot(),
    committedEntries: [],
    messages: [],
    mustSync: false,
  };

  test('says so when there is nothing to do', () => {
    expect(describeReady(empty)).toBe('<empty Ready>');
  });

  test('prints each non-empty part in order', () => {
    const rd: Ready = {
      ...empty,
      softState: { lead: 1, raftState: StateType.StateLeader },
      hardState: { term: 1, vote: 1, commit: 11 },
      readStates: [{ index: 12, requestCtx: bytes('r1') }],
      entries: [newEntry({ term: 1, index: 12, data: bytes('x') })],
      committedEntries: [newEntry({ term: 1, index: 11 })],
      messages: [newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: 11 })],
      mustSync: true,
    };
    expect(describeReady(rd)).toBe(
      'Ready MustSync=true:\n' +
        'Lead:1 State:StateLeader\n' +
        'HardState Term:1 Vote:1 Commit:11\n' +
        'ReadStates [{12 [114 49]}]\n' +
        'Entries:\n' +
        '1/12 EntryNormal "x"\n' +
        'CommittedEntries:\n' +
        '1/11 EntryNormal ""\n' +
        'Messages:\n' +
        '1->2 MsgHeartbeat Term:1 Log:0/0 Commit:11\n',
    );
  });

  test('prints a snapshot between entries and committed entries', () => {
    const rd: Ready = { ...empty, hardState: { term: 1, vote: 0, commit: 11 }, snapshot: snapshot(11, 1, [1]) };
    expect(describeReady(rd)).toBe(
      'Ready MustSync=false:\n' +
        'HardState Term:1 Commit:11\n' +
        'Snapshot Index:11 Term:1 ConfState:Voters:[1] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false\n',
    );
  });
});
