// # Watching keys
//
// A watch streams every change of one key, or of every key under a prefix, from a start revision on, as
// server-sent events: one `change` event per revision that touched a watched key, carrying all of that revision's
// changes (a transaction's changes arrive together) and `id: <revision>`. So the stream is in revision order with
// no gap and no repeat, and a client that reconnects, to this member or any other, resumes from the revision after
// the last id it saw (`startRevision`, or the standard `Last-Event-ID` header). Members apply the same log, so every
// member has the same events at the same revisions.
//
// A watcher does not buffer events itself: it reads them from the store's history (kvstore/kv.ts) as the socket
// accepts them. A slow reader therefore costs the member at most `maxBufferedBytes` of socket buffer. It falls
// behind instead, and is cancelled with a reason once it is `maxLagRevisions` behind while its buffer is full,
// or as soon as the revisions it still needs are compacted.

import http from 'node:http';
import { KvError } from './errors';
import { KvEvent, KvStore, keyValueJSON } from './kv';

/** What a watch follows and from where. */
export interface WatchSpec {
  /** A single key, or every key starting with `prefix`. */
  key?: string;
  prefix?: string;
  /** The first revision to report (undefined: the next change). */
  startRevision?: number;
}

export interface WatchLimits {
  maxBufferedBytes: number;
  maxLagRevisions: number;
  keepaliveMs: number;
}

export const defaultWatchLimits: WatchLimits = { maxBufferedBytes: 1024 * 1024, maxLagRevisions: 10_000, keepaliveMs: 15_000 };

/** An event as a watch reports it. */
export interface WatchEventJSON {
  type: 'put' | 'delete';
  key: string;
  value?: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** A put's lease (0: none); absent on a delete. */
  lease?: number;
}

/** Checks the start revision before the stream begins, so a compacted start is an ordinary error answer. */
export function checkWatchStart(kv: KvStore, startRevision: number | undefined): void {
  if (startRevision !== undefined && startRevision < kv.compactRevision) {
    throw new KvError('Compacted', `Watch start revision ${startRevision} was compacted; the oldest revision available is ${kv.compactRevision}`);
  }
}

/** Streams a watch on `res` until the client goes away or the watch is cancelled. */
export function streamWatch(kv: KvStore, spec: WatchSpec, req: http.IncomingMessage, res: http.ServerResponse, limits: WatchLimits = defaultWatchLimits): void {
  const matches = spec.key !== undefined ? (k: string): boolean => k === spec.key : (k: string): boolean => k.startsWith(spec.prefix ?? '');
  // Invariant: every event below `next` that matches was written to the socket, each once, in order.
  let next = spec.startRevision ?? kv.revision + 1;
  let waitingForDrain = false;
  let done = false;

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(`event: created\ndata: ${JSON.stringify({ startRevision: next, revision: kv.revision, compactRevision: kv.compactRevision })}\n\n`);

  const finish = (): void => {
    if (done) return;
    done = true;
    unsubscribe();
    clearInterval(keepalive);
    clearInterval(drainCheck);
  };
  const cancel = (code: string, message: string, extra: Record<string, number> = {}): void => {
    if (done) return;
    res.end(`event: cancel\ndata: ${JSON.stringify({ error: { code, message, ...extra } })}\n\n`);
    finish();
  };

  const pump = (): void => {
    while (!done && next <= kv.revision) {
      if (waitingForDrain || res.writableLength > limits.maxBufferedBytes) {
        waitingForDrain = true;
        if (next < kv.compactRevision) {
          cancel('Compacted', `Revision ${next} was compacted while the watcher was behind; the oldest revision available is ${kv.compactRevision}`, { compactRevision: kv.compactRevision });
        } else if (kv.revision - next >= limits.maxLagRevisions) {
          cancel('SlowWatcher', `The watcher fell ${kv.revision - next} revisions behind with a full buffer; resume from revision ${next}`, { resumeRevision: next });
        }
        return;
      }
      let batch: KvEvent[];
      try {
        batch = kv.eventsFrom(next, 256);
      } catch (err) {
        if (err instanceof KvError && err.code === 'Compacted') {
          cancel('Compacted', `${err.message}; the watch cannot continue from revision ${next}`, { compactRevision: kv.compactRevision });
          return;
        }
        throw err;
      }
      if (batch.length === 0) {
        next = kv.revision + 1;
        break;
      }
      let chunk = '';
      let i = 0;
      while (i < batch.length) {
        const revision = batch[i]?.revision ?? 0;
        const events: WatchEventJSON[] = [];
        for (; i < batch.length && batch[i]?.revision === revision; i++) {
          const e = batch[i];
          if (e !== undefined && matches(e.key)) events.push(eventJSON(e));
        }
        if (events.length > 0) chunk += `id: ${revision}\nevent: change\ndata: ${JSON.stringify({ revision, events })}\n\n`;
        next = revision + 1;
      }
      if (chunk !== '' && !res.write(chunk)) waitingForDrain = true;
    }
  };

  // Changes arrive while the log is applied; the socket work waits for the loop's turn to end, and a burst of
  // revisions is sent in one go.
  let scheduled = false;
  const unsubscribe = kv.onChange(() => {
    if (scheduled || done) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      try {
        pump();
      } catch (err) {
        cancel('Internal', err instanceof Error ? err.message : String(err));
      }
    });
  });
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), limits.keepaliveMs);
  const resumeIfDrained = (): void => {
    if (!waitingForDrain || done || res.writableLength > 0) return;
    waitingForDrain = false;
    pump();
  };
  res.on('drain', resumeIfDrained);
  // 'drain' follows only a write that returned false; a buffer found full by its length is checked again here.
  const drainCheck = setInterval(resumeIfDrained, 100);
  req.on('close', finish);
  res.on('close', finish);
  pump();
}

function eventJSON(e: KvEvent): WatchEventJSON {
  if (e.kv !== undefined) {
    const { key, value, createRevision, modRevision, version, lease } = keyValueJSON(e.key, e.kv);
    return { type: 'put', key, value, createRevision, modRevision, version, lease };
  }
  // etcd's shape for a delete: the key, the revision that deleted it, and no value.
  return { type: 'delete', key: e.key, createRevision: 0, modRevision: e.revision, version: 0 };
}

/** Reads `startRevision` or `Last-Event-ID` (the last revision seen: start after it). */
export function watchStart(queryValue: string | undefined, lastEventId: string | undefined): number | undefined {
  if (queryValue !== undefined) return positiveInteger(queryValue, 'Query parameter startRevision');
  if (lastEventId !== undefined) return positiveInteger(lastEventId, 'Header Last-Event-ID') + 1;
  return undefined;
}

function positiveInteger(text: string, what: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new KvError('BadRequest', `${what} must be a positive integer, not "${text}"`);
  return n;
}
