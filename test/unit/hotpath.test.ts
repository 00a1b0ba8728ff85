// Which requests the client API's hot path takes (kvstore/hotpath.ts): the plain single-key GET, PUT and DELETE,
// and nothing it would answer differently from the express app. test/integration/hot-path.test.ts checks that
// the answers themselves are the same.

import http from 'node:http';
import net from 'node:net';
import { plainKeyRoute } from '../../kvstore/hotpath';

const limits = { maxKeyBytes: 16, maxValueBytes: 100 };

function request(method: string, url: string, headers: http.IncomingHttpHeaders = {}): http.IncomingMessage {
  const req = new http.IncomingMessage(new net.Socket());
  req.method = method;
  req.url = url;
  req.headers = headers;
  return req;
}

test('the plain forms of GET, PUT and DELETE of one key take the hot path, with the key decoded', () => {
  expect(plainKeyRoute(request('GET', '/kv/a%20b'), limits)).toEqual({ method: 'GET', key: 'a b', serializable: false });
  expect(plainKeyRoute(request('GET', '/kv/a?consistency=serializable'), limits)).toEqual({ method: 'GET', key: 'a', serializable: true });
  expect(plainKeyRoute(request('GET', '/kv/a?consistency=linearizable'), limits)).toEqual({ method: 'GET', key: 'a', serializable: false });
  expect(plainKeyRoute(request('PUT', '/kv/a', { 'content-length': '3' }), limits)).toEqual({ method: 'PUT', key: 'a', serializable: false });
  expect(plainKeyRoute(request('DELETE', '/kv/a'), limits)).toEqual({ method: 'DELETE', key: 'a', serializable: false });
});

test('every other form goes to the full API, which owns its meaning and its errors', () => {
  const full: [string, string, http.IncomingHttpHeaders?][] = [
    ['DELETE', '/kv/a?session=1:1:1'],
    ['DELETE', '/kv/a?'],
    ['DELETE', '/kv/'],
    ['DELETE', '/kv/a/b'],
    ['DELETE', `/kv/${'k'.repeat(17)}`],
    ['DELETE', '/kv/%E0%A4%A'],
    ['DELETE', '/lease/1'],
    ['GET', '/kv/a?revision=3'],
    ['GET', '/kv'],
    ['PUT', '/kv/a?ifAbsent=true', { 'content-length': '1' }],
    ['PUT', '/kv/a', {}],
    ['PUT', '/kv/a', { 'content-length': '101' }],
    ['PUT', '/kv/a', { 'content-length': '1', 'content-encoding': 'gzip' }],
    ['POST', '/kv/a', { 'content-length': '1' }],
  ];
  for (const [method, url, headers] of full) expect([method, url, plainKeyRoute(request(method, url, headers), limits)]).toEqual([method, url, undefined]);
});
