// The library example of README.md and docs/ready-contract.md, run as a test so the documentation stays true.
import { EntryType, MemoryStorage, RawNode, StateType, decodeConfChange, isEmptyHardState } from '../../raft';

describe('the README library example', () => {
  it('elects a single node and applies a proposal through the Ready loop', () => {
    const storage = new MemoryStorage();
    const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, maxInflightMsgs: 256 });
    node.bootstrap([{ id: 1 }]);
    const applied: string[] = [];
    const handleReadys = (): void => {
      while (node.hasReady()) {
        const rd = node.ready();
        if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState); // 1. persist
        storage.append(rd.entries);
        // 2. send rd.messages to the peers (a single node has none)
        for (const e of rd.committedEntries) {
          // 3. apply: configuration changes go back to the core, commands to the state machine
          if (e.type === EntryType.EntryConfChange) node.applyConfChange(decodeConfChange(e.data));
          else if (e.data.length > 0) applied.push(new TextDecoder().decode(e.data));
        }
        node.advance(); // 4. ready for more
      }
    };

    handleReadys(); // applies the bootstrap configuration
    node.campaign();
    handleReadys(); // the vote for itself counts once it is persisted: now it leads
    node.propose(new TextEncoder().encode('x=1'));
    handleReadys();

    expect(node.status().raftState).toBe(StateType.StateLeader);
    expect(applied).toEqual(['x=1']);
    expect(storage.lastIndex()).toBe(node.status().commit);
  });
});
