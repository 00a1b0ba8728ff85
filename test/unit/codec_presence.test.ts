// Field presence in the codec: a field that was set is encoded even when it holds zero, a field that was never set
// is not, and decoding accepts both forms. Every expected byte string below is derived by hand from raft.proto's
// field numbers (a tag byte is field << 3 | wire type: 0 for a varint, 2 for a length-delimited field).

import {
  CodecError,
  decodeConfChange,
  decodeEntry,
  decodeMessage,
  encodeConfChange,
  encodeEntry,
  encodeMessage,
  entrySize,
} from '../../raft/codec';
import { RawNode } from '../../raft/rawnode';
import { MemoryStorage } from '../../raft/storage';
import { ConfChange, ConfChangeType, Entry, EntryType, MessageType, newEntry, newMessage } from '../../raft/types';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

// "prop_1" in ASCII.
const PROP_1 = '70726f705f31';

describe('Entry.type presence', () => {
  // A proposal: term 1 (tag 0x10), index 4 (tag 0x18), data "prop_1" (tag 0x22, length 6); no type field.
  const proposal: Entry = { term: 1, index: 4, type: EntryType.EntryNormal, data: text('prop_1'), typeUnset: true };
  const unsetBytes = '1001' + '1804' + '2206' + PROP_1;
  // The same entry naming its type: EntryNormal is 0, and a set field is written even when zero (tag 0x08, 0).
  const named: Entry = { term: 1, index: 4, type: EntryType.EntryNormal, data: text('prop_1') };
  const namedBytes = '0800' + unsetBytes;

  it('leaves out a type that was never set', () => {
    expect(hex(encodeEntry(proposal))).toBe(unsetBytes);
    expect(entrySize(proposal)).toBe(12);
  });

  it('writes a type that was set, even to EntryNormal', () => {
    expect(hex(encodeEntry(named))).toBe(namedBytes);
    expect(entrySize(named)).toBe(14);
  });

  it("sizes a new leader's empty entry as term and index alone, and an ignored change's placeholder with its type", () => {
    const empty: Entry = { term: 1, index: 3, type: EntryType.EntryNormal, data: new Uint8Array(0), typeUnset: true };
    expect(hex(encodeEntry(empty))).toBe('1001' + '1803');
    expect(entrySize(empty)).toBe(4);
    const placeholder: Entry = { term: 1, index: 5, type: EntryType.EntryNormal, data: new Uint8Array(0) };
    expect(hex(encodeEntry(placeholder))).toBe('0800' + '1001' + '1805');
    expect(entrySize(placeholder)).toBe(6);
  });

  it('decodes both forms to the same entry, marking the one without a type field', () => {
    expect(decodeEntry(unhex(unsetBytes))).toEqual(proposal);
    const decodedNamed = decodeEntry(unhex(namedBytes));
    expect(decodedNamed).toEqual(named);
    expect('typeUnset' in decodedNamed).toBe(false);
  });

  it('keeps the size of either form through a round trip', () => {
    for (const bytes of [unsetBytes, namedBytes]) {
      const e = decodeEntry(unhex(bytes));
      expect(entrySize(e)).toBe(bytes.length / 2);
      expect(hex(encodeEntry(e))).toBe(bytes);
    }
  });

  it('sizes a MsgApp entry by its own presence', () => {
    const m = newMessage({ type: MessageType.MsgApp, entries: [proposal, named] });
    const encoded = hex(encodeMessage(m));
    // Message.entries is field 7 (tag 0x3a): a 12-byte entry, then a 14-byte one.
    expect(encoded).toContain('3a0c' + unsetBytes + '3a0e' + namedBytes);
    expect(decodeMessage(unhex(encoded)).entries).toEqual([proposal, named]);
  });

  it('refuses to leave out a type other than EntryNormal, which the reader would take for EntryNormal', () => {
    const bad: Entry = { ...proposal, type: EntryType.EntryConfChange };
    expect(() => encodeEntry(bad)).toThrow(CodecError);
  });
});

describe('ConfChange.id presence', () => {
  // A v1 change adding learner 2: type ConfChangeAddLearnerNode = 3 (field 2, tag 0x10), node_id 2 (field 3, 0x18).
  const unset: ConfChange = { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2, context: new Uint8Array(0) };
  const zeroId: ConfChange = { ...unset, id: 0 };

  it('leaves out an ID that was never set: 4 bytes', () => {
    expect(hex(encodeConfChange(unset))).toBe('1003' + '1802');
  });

  it('writes an ID that was set, even to 0: 6 bytes', () => {
    expect(hex(encodeConfChange(zeroId))).toBe('0800' + '1003' + '1802');
    expect(hex(encodeConfChange({ ...unset, id: 300 }))).toBe('08ac02' + '1003' + '1802');
  });

  it('decodes both forms, with the ID present only when the bytes carry it', () => {
    const decoded = decodeConfChange(unhex('10031802'));
    expect(decoded).toEqual(unset);
    expect('id' in decoded).toBe(false);
    expect(decodeConfChange(unhex('080010031802'))).toEqual(zeroId);
  });

  it("gives the entry carrying an etcd-style change etcd's size of 12 bytes", () => {
    // type EntryConfChange = 1 (08 01), term 1, index 4, data: the 4 bytes above (22 04 ...).
    const e: Entry = { term: 1, index: 4, type: EntryType.EntryConfChange, data: encodeConfChange(unset) };
    expect(hex(encodeEntry(e))).toBe('0801' + '1001' + '1804' + '2204' + '10031802');
    expect(entrySize(e)).toBe(12);
  });
});

describe('newEntry', () => {
  it('names the type unless told it was never set', () => {
    expect(entrySize(newEntry({ term: 1, index: 3 }))).toBe(6);
    expect(entrySize(newEntry({ term: 1, index: 3, typeUnset: true }))).toBe(4);
  });
});

// The core sets the type where etcd does and leaves it unset where etcd does, so the sizes it limits by agree.
describe('entries the core creates', () => {
  function leader(): { rn: RawNode; storage: MemoryStorage } {
    const storage = new MemoryStorage();
    const confState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    storage.applySnapshot({ data: new Uint8Array(0), metadata: { index: 1, term: 1, confState } });
    const rn = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, maxInflightMsgs: 256 });
    rn.campaign();
    for (let rd = rn.ready(); ; rd = rn.ready()) {
      storage.append(rd.entries);
      if (rd.hardState.term !== 0) storage.setHardState(rd.hardState);
      rn.advance();
      if (!rn.hasReady()) break;
    }
    return { rn, storage };
  }

  it("leaves the type of a new leader's empty entry and of a proposal unset, and names it for a conf change", () => {
    const { rn, storage } = leader();
    rn.propose(text('prop_1'));
    rn.proposeConfChange({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2, context: new Uint8Array(0) });
    const ents = rn.ready().entries;
    const all = [...storage.entries(2, storage.lastIndex() + 1, Infinity), ...ents];
    expect(all[0].term).toBe(1);
    expect(all.map((e) => [EntryType[e.type], entrySize(e)])).toEqual([
      ['EntryNormal', 4], // the empty entry: term 1 (10 01), index 2 (18 02)
      ['EntryNormal', 12], // the proposal, sized as in the first test above
      ['EntryConfChange', 12], // type, term, index, and the 4-byte change without an ID
    ]);
  });

  it('names the type of the placeholder for an ignored conf change', () => {
    const { rn } = leader();
    const learner = { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2, context: new Uint8Array(0) };
    rn.proposeConfChange(learner);
    // The first change is not applied yet, so the second is ignored and replaced by an empty normal entry.
    rn.proposeConfChange({ ...learner, nodeId: 3 });
    const placeholder = rn.ready().entries[1];
    expect(placeholder.type).toBe(EntryType.EntryNormal);
    expect(placeholder.typeUnset).toBeUndefined();
    expect(entrySize(placeholder)).toBe(6);
  });
});
