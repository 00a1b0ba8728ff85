// # The `tsraft/client` entry point
//
// What an application imports to talk to a cluster: the client of the HTTP API (kvstore/client.ts) under its
// public name `Client`, with its option and reply types, and the error class its calls reject with.

export * from './client';
export { KvClient as Client } from './client';
export { KvError } from './errors';
export type { KvErrorCode } from './errors';
