// # Reading command arguments
//
// Scenario commands name nodes by ID and pass options as `key=value`. These helpers read them the way etcd's
// harness does (Go's strconv rules for numbers and booleans) and throw an InteractionError for a malformed
// scenario, which fails the run instead of becoming part of the expected output.

import { CmdArg } from './datadriven';

/** A scenario the harness cannot run: a missing or malformed argument. Fails the scenario rather than printing. */
export class InteractionError extends Error {
  override name = 'InteractionError';
  readonly code: 'BadArgument';

  constructor(message: string) {
    super(message);
    this.code = 'BadArgument';
  }
}

/** The first argument as an integer, e.g. the node ID of `campaign 1`. */
export function firstAsInt(args: CmdArg[]): number {
  const first = args[0];
  if (first === undefined || !/^[+-]?[0-9]+$/.test(first.key)) {
    throw new InteractionError(`expected an integer as the first argument, got ${JSON.stringify(first?.key)}`);
  }
  return Number(first.key);
}

/** The first argument as a node index (its ID minus one). */
export function firstAsNodeIdx(args: CmdArg[]): number {
  return firstAsInt(args) - 1;
}

/** The node indexes named by the bare arguments (those without `=`), in order. */
export function nodeIdxs(args: CmdArg[]): number[] {
  return args
    .filter((a) => a.vals.length === 0)
    .map((a) => {
      if (!/^[0-9]+$/.test(a.key)) {
        throw new InteractionError(`expected a node ID, got ${JSON.stringify(a.key)}`);
      }
      return Number(a.key) - 1;
    });
}

/** An unsigned integer value, as Go's strconv.ParseUint reads it. */
export function parseUint(key: string, val: string): number {
  if (!/^[0-9]+$/.test(val)) {
    throw new InteractionError(`${key}: expected an unsigned integer, got ${JSON.stringify(val)}`);
  }
  return Number(val);
}

/** A boolean value, accepting the spellings of Go's strconv.ParseBool. */
export function parseBool(key: string, val: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(val)) {
    return true;
  }
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(val)) {
    return false;
  }
  throw new InteractionError(`${key}: expected a boolean, got ${JSON.stringify(val)}`);
}

/** The single value of the argument `key`; throws when it is missing or has several values. */
export function scanArg(args: CmdArg[], key: string): string {
  const arg = args.find((a) => a.key === key);
  if (arg === undefined) {
    throw new InteractionError(`missing argument: ${key}`);
  }
  if (arg.vals.length !== 1) {
    throw new InteractionError(`${key}: got 1 destinations, but ${arg.vals.length} values`);
  }
  return arg.vals[0];
}
