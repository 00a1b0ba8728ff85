// # The `tsraft/recipes` entry point
//
// Coordination built on the public client (`tsraft/client`) alone, as docs/recipes.md explains: a watched
// configuration value. Each recipe takes a `Client` and uses nothing else of this package.

export { watchConfig, WatchedConfig } from './config';
export type { ConfigValue, WatchConfigOptions } from './config';
