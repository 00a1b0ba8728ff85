// # Logging
//
// The core never prints. It hands sentences to a `Logger` the application supplies: the node colours them, the
// scenario harness captures them at the level a scenario file asks for, and tests may discard them.

/** Where the core writes what it does. `panic` reports a broken invariant and must not return. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  panic(message: string): never;
}

/** The error thrown by `panic`: the core found its own state impossible, and continuing could lose data. */
export class RaftPanic extends Error {
  override name = 'RaftPanic';
}

/** Discards everything but panics: the default for a library that should stay quiet. */
export const discardLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warning: () => undefined,
  error: () => undefined,
  panic: (message: string): never => {
    throw new RaftPanic(message);
  },
};
