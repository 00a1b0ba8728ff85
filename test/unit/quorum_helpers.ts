// Definitions of the quorum rules written the slow, obvious way, to check the real code against.

export { bruteForceCommittedIndex } from '../../raft/rafttest/quorum_handler';
