// # The dashboard's server side
//
// Every member serves the same static page at `/dashboard`. The page does the rest in the browser: it reads
// `GET /status` of every member it knows of (the member list in each status names their client URLs) and draws
// what it hears, so it keeps working when the member that served it goes down. That needs one thing from the
// server: `GET /status` may be read from a page of another member's origin. Writes from the page go to the member
// that served it, same-origin, except a leadership transfer, which goes to the leader: a follower hands the core's
// transfer request on to the leader in a message the peer transport does not accept, so only the leader can start
// one. That route's answer may therefore be read from another origin too (the request itself is a plain-text POST,
// which any page could already send; reading the new leader's ID adds nothing).
//
// `GET /status` also carries what the page shows that the rest of the API does not: the tail of the log
// (kvstore/status.ts).

import fs from 'node:fs';
import path from 'node:path';
import express, { Request, Response, NextFunction } from 'express';

// The page's files sit beside this module in the source tree; compiled code runs from dist/, which does not copy
// them, so look in both places.
function staticDir(): string {
  const candidates = [path.join(__dirname, 'static'), path.join(__dirname, '..', '..', '..', 'kvstore', 'dashboard', 'static')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
  if (found === undefined) throw new Error(`The dashboard's files are missing: looked in ${candidates.join(' and ')}`);
  return found;
}

/** The router mounted at `/dashboard`: the page and its script. */
export function dashboardRouter(): express.Router {
  const router = express.Router();
  router.use(express.static(staticDir(), { index: 'index.html', redirect: true }));
  return router;
}

/** Lets a dashboard page served by another member read this route. */
export function readableFromAnyOrigin(_req: Request, res: Response, next: NextFunction): void {
  res.set('Access-Control-Allow-Origin', '*');
  next();
}
