// # The `tsraft/recipes` entry point
//
// Coordination built on the public client (`tsraft/client`) alone, as docs/recipes.md explains: a watched
// configuration value, a distributed lock with a fencing token, and a leader election. Each recipe takes a
// `Client` and uses nothing else of this package.

export { watchConfig, WatchedConfig } from './config';
export type { ConfigValue, WatchConfigOptions } from './config';
export { acquireLock, LockHandle, fenceText, writeFenced } from './lock';
export type { LockOptions, FencedWriteResult } from './lock';
export { Election, Leadership } from './election';
export type { LeaderInfo } from './election';
export type { JoinOptions } from './queue';
export { RecipeError } from './errors';
export type { RecipeErrorCode } from './errors';
