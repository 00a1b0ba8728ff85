// # Errors of the recipes
//
// A recipe fails in its own terms: the lease under a lock or a campaign was lost, the caller gave up waiting, or a
// handle was used after it stopped holding. What went wrong underneath (a KvError from the client) is the `cause`.

export type RecipeErrorCode =
  /** The lease under the key expired or was revoked: the key is gone, and so is whatever it held. */
  | 'LeaseLost'
  /** The caller's AbortSignal fired while waiting. */
  | 'Aborted'
  /** The handle no longer holds what it held (it was released, or lost). */
  | 'NotHeld'
  /** More keys under the prefix than one listing returns: the line cannot be read whole, so nobody is let in. */
  | 'TooManyContenders';

/** A recipe's failure; `cause` carries the client's error when there is one. */
export class RecipeError extends Error {
  override name = 'RecipeError';

  constructor(
    readonly code: RecipeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
