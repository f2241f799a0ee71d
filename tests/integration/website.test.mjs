// website.test.mjs - the static website served from bucket "site" to unsigned
// GET/HEAD: index and error documents, folder redirects, SPA fallback, content
// types, validators (ETag/Last-Modified) and 304s, byte ranges, Cache-Control,
// precompressed .br/.gz siblings, percent-decoding, and hostile paths that must
// never escape the bucket or take the server down.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import {
  startServer,
  makeTree,
  rmTree,
  request,
  RawConn,
  rawRequest,
  rawHead,
  assertFreshDate,
} from './helpers.mjs';

const T = { timeout: 20000 };

const INDEX = '<!doctype html><title>home</title><p>INDEX-MARKER</p>\n';
const NOT_FOUND = '<!doctype html><title>missing</title><h1>NOTFOUND-DOC-MARKER</h1>\n';
const ABOUT = '<!doctype html><p>ABOUT-MARKER</p>\n';
const DEEP = '<!doctype html><p>DEEP-MARKER</p>\n';
const BUNDLE = 'export function add(a, b) { return a + b; } // BUNDLE-MARKER\n'.repeat(200);
const DATA_JSON = JSON.stringify({ rows: Array.from({ length: 200 }, (_, i) => ({ i, name: `row ${i}` })) });
const RANGE = Buffer.from(Array.from({ length: 1000 }, (_, i) => 33 + ((i * 7) % 90)));
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
// Everything a bad path must never return.
const FOREIGN_MARKERS = ['INDEX-MARKER', 'ABOUT-MARKER', 'DEEP-MARKER', 'BUNDLE-MARKER', 'root:x:0:0'];

const BR = zlib.brotliCompressSync(Buffer.from(BUNDLE));
const GZ = zlib.gzipSync(Buffer.from(BUNDLE));
const DATA_GZ = zlib.gzipSync(Buffer.from(DATA_JSON));

const SITE = {
  'index.html': INDEX,
  '404.html': NOT_FOUND,
  'about/index.html': ABOUT,
  'nested/deep/index.html': DEEP,
  'style.css': 'body { color: red }\n',
  'app.js': 'console.log("app");\n',
  'app-main.js': 'console.log("not fingerprinted");\n',
  'data.json': DATA_JSON,
  'data.json.gz': DATA_GZ,
  'logo.svg': '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n',
  'img.png': PNG,
  'notes.txt': 'plain notes\n',
  'mod.wasm': WASM,
  'assets/app-3F2A9C1B.js': 'console.log("fingerprinted");\n',
  'app.3f2a9c1b7d.css': 'p { margin: 0 }\n',
  'range.txt': RANGE,
  'bundle.js': BUNDLE,
  'bundle.js.br': BR,
  'bundle.js.gz': GZ,
  'hello world.txt': 'HELLO-SPACE\n',
  '100%.txt': 'PERCENT-NAME\n',
  'café.txt': 'UTF8-NAME\n',
  'release..notes.txt': 'DOTDOT-IN-NAME\n',
};

const maxAge = (cc) => {
  const m = /(?:^|[,\s])max-age=(\d+)/i.exec(cc ?? '');
  return m ? Number(m[1]) : null;
};

describe('static website (errorDocument 404.html)', () => {
  let srv;
  let site;
  before(async () => {
    site = await makeTree(SITE);
    srv = await startServer({ siteDir: site, config: { site: { errorDocument: '404.html' } } });
  });
  after(async () => {
    await srv?.stop();
    await rmTree(site);
  });
  const get = (p, opts) => request(srv.url, p, opts);

  it('serves index.html for / with the full set of headers', T, async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.equal(res.text, INDEX);
    assert.match(res.headers['content-type'] ?? '', /^text\/html;\s*charset=utf-8$/i);
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(INDEX));
    assert.match(res.headers.etag ?? '', /^"[^"]+"$/, 'ETag missing or not quoted');
    assert.ok(!Number.isNaN(Date.parse(res.headers['last-modified'] ?? '')), 'Last-Modified missing or not a date');
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.match(res.headers['cache-control'] ?? '', /no-cache/);
    assert.ok(res.headers['x-amz-request-id'], 'no x-amz-request-id');
    assertFreshDate(res.headers);
  });

  it('serves the same object for /index.html', T, async () => {
    const a = await get('/');
    const b = await get('/index.html');
    assert.equal(b.status, 200);
    assert.equal(b.text, INDEX);
    assert.equal(b.headers.etag, a.headers.etag);
  });

  it('serves index.html for any folder/', T, async () => {
    for (const [p, want] of [
      ['/about/', ABOUT],
      ['/about/index.html', ABOUT],
      ['/nested/deep/', DEEP],
    ]) {
      const res = await get(p);
      assert.equal(res.status, 200, p);
      assert.equal(res.text, want, p);
      assert.match(res.headers['content-type'] ?? '', /^text\/html/i, p);
    }
  });

  it('redirects /folder to /folder/ with 302 when folder/index.html exists', T, async () => {
    for (const p of ['/about', '/nested/deep']) {
      const res = await get(p);
      assert.equal(res.status, 302, p);
      assert.ok(res.headers.location, `${p}: no Location`);
      assert.equal(new URL(res.headers.location, srv.url).pathname, `${p}/`, `${p}: Location ${res.headers.location}`);
      assert.ok(res.headers['x-amz-request-id'], `${p}: no x-amz-request-id on the redirect`);
    }
  });

  it('answers 404 with the error document for missing objects and folders without an index', T, async () => {
    for (const p of ['/missing', '/missing/', '/missing.js', '/about/missing.html', '/assets/', '/assets']) {
      const res = await get(p);
      assert.equal(res.status, 404, `${p}: status ${res.status}`);
      assert.equal(res.text, NOT_FOUND, `${p}: body is not the error document`);
      assert.match(res.headers['content-type'] ?? '', /^text\/html/i, p);
      assert.ok(res.headers['x-amz-request-id'], `${p}: no x-amz-request-id`);
    }
  });

  it('HEAD sends the same headers as GET and no body', T, async () => {
    const getRes = await get('/style.css');
    const c = await RawConn.open(srv.port);
    try {
      // The GET /healthz behind it only parses if HEAD sent no body bytes.
      await c.write(rawHead('HEAD', '/style.css', srv.port) + rawHead('GET', '/healthz', srv.port));
      const head = await c.readResponse({ head: true });
      const next = await c.readResponse();
      assert.equal(head.status, 200);
      for (const h of ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'accept-ranges']) {
        assert.equal(head.headers[h], getRes.headers[h], `HEAD and GET differ in ${h}`);
      }
      assert.equal(next.status, 200, 'HEAD response carried a body (the pipelined request was garbled)');
    } finally {
      c.close();
    }
    const missing = await get('/missing', { method: 'HEAD' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.length, 0);
  });

  it('sets Content-Type by extension', T, async () => {
    const cases = [
      ['/index.html', /^text\/html;\s*charset=utf-8$/i],
      ['/style.css', /^text\/css(;|$)/i],
      ['/app.js', /^(text|application)\/javascript(;|$)/i],
      ['/data.json', /^application\/json(;|$)/i],
      ['/logo.svg', /^image\/svg\+xml(;|$)/i],
      ['/img.png', /^image\/png$/i],
      ['/notes.txt', /^text\/plain(;|$)/i],
      ['/mod.wasm', /^application\/wasm$/i],
    ];
    for (const [p, re] of cases) {
      const res = await get(p);
      assert.equal(res.status, 200, p);
      assert.match(res.headers['content-type'] ?? '', re, `${p}: Content-Type ${res.headers['content-type']}`);
    }
    assert.deepEqual((await get('/img.png')).body, PNG);
    assert.deepEqual((await get('/mod.wasm')).body, WASM);
  });

  it('sets Cache-Control: no-cache for HTML, immutable for fingerprinted names, a short max-age otherwise', T, async () => {
    for (const p of ['/', '/about/']) {
      assert.match((await get(p)).headers['cache-control'] ?? '', /no-cache/, p);
    }
    for (const p of ['/assets/app-3F2A9C1B.js', '/app.3f2a9c1b7d.css']) {
      const cc = (await get(p)).headers['cache-control'] ?? '';
      assert.equal(maxAge(cc), 31536000, `${p}: Cache-Control ${cc}`);
      assert.match(cc, /immutable/, `${p}: Cache-Control ${cc}`);
    }
    for (const p of ['/style.css', '/app-main.js', '/notes.txt', '/logo.svg']) {
      const cc = (await get(p)).headers['cache-control'] ?? '';
      const age = maxAge(cc);
      assert.ok(age !== null && age > 0 && age <= 86400, `${p}: Cache-Control ${cc} is not a short max-age`);
      assert.doesNotMatch(cc, /immutable/, `${p}: Cache-Control ${cc}`);
    }
  });

  it('answers If-None-Match with 304, no body, and the ETag', T, async () => {
    const { etag } = (await get('/style.css')).headers;
    const c = await RawConn.open(srv.port);
    try {
      await c.write(rawHead('GET', '/style.css', srv.port, { 'If-None-Match': etag }) + rawHead('GET', '/healthz', srv.port));
      const res = await c.readResponse();
      const next = await c.readResponse();
      assert.equal(res.status, 304);
      assert.equal(res.headers.etag, etag);
      assert.ok(res.headers['x-amz-request-id'], 'no x-amz-request-id on 304');
      assert.equal(next.status, 200, '304 carried a body (the pipelined request was garbled)');
    } finally {
      c.close();
    }
    assert.equal((await get('/style.css', { headers: { 'if-none-match': '"not-the-etag"' } })).status, 200);
    assert.equal((await get('/style.css', { headers: { 'if-none-match': `"not-the-etag", ${etag}` } })).status, 304);
  });

  it('answers If-Modified-Since with 304 unless modified, and lets If-None-Match take precedence', T, async () => {
    const lm = (await get('/notes.txt')).headers['last-modified'];
    assert.ok(lm, 'no Last-Modified');
    const hit = await get('/notes.txt', { headers: { 'if-modified-since': lm } });
    assert.equal(hit.status, 304);
    assert.equal(hit.body.length, 0);
    const older = new Date(Date.parse(lm) - 86400 * 1000).toUTCString();
    assert.equal((await get('/notes.txt', { headers: { 'if-modified-since': older } })).status, 200);
    const both = await get('/notes.txt', { headers: { 'if-none-match': '"not-the-etag"', 'if-modified-since': lm } });
    assert.equal(both.status, 200, 'If-Modified-Since was used although If-None-Match was present and did not match');
  });

  it('serves byte ranges with 206 and exact bytes', T, async () => {
    const cases = [
      ['bytes=0-9', 0, 9],
      ['bytes=100-199', 100, 199],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=995-5000', 995, 999],
      ['bytes=0-0', 0, 0],
    ];
    for (const [range, a, b] of cases) {
      const res = await get('/range.txt', { headers: { range } });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${a}-${b}/1000`, range);
      assert.equal(Number(res.headers['content-length']), b - a + 1, range);
      assert.deepEqual(res.body, RANGE.subarray(a, b + 1), range);
      assert.ok(res.headers['x-amz-request-id'], `${range}: no x-amz-request-id on the 206`);
    }
    const full = await get('/range.txt');
    assert.equal(full.status, 200);
    assert.equal(full.headers['accept-ranges'], 'bytes');
    assert.deepEqual(full.body, RANGE);
  });

  it('answers unsatisfiable ranges with 416 and Content-Range: bytes */total', T, async () => {
    for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=1000-1000']) {
      const res = await get('/range.txt', { headers: { range } });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers['content-range'], 'bytes */1000', range);
      assert.ok(res.headers['x-amz-request-id'], `${range}: no x-amz-request-id on the 416`);
    }
  });

  it('survives malformed and multi-part ranges', T, async () => {
    for (const range of ['bytes=abc', 'bytes=5-1', 'items=0-5', 'bytes=', 'bytes=0-1,5-6', 'bytes=-0', 'bytes=99999999999999999999-']) {
      const res = await get('/range.txt', { headers: { range } });
      assert.ok([200, 206, 416].includes(res.status), `${range}: status ${res.status}`);
      if (res.status === 200) assert.deepEqual(res.body, RANGE, `${range}: 200 without the full body`);
    }
    assert.equal((await get('/healthz')).status, 200);
  });

  it('serves the .br sibling for Accept-Encoding: br', T, async () => {
    const res = await get('/bundle.js', { headers: { 'accept-encoding': 'br' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'br');
    assert.match(res.headers['content-type'] ?? '', /^(text|application)\/javascript/i);
    assert.match(res.headers.vary ?? '', /accept-encoding/i);
    assert.equal(Number(res.headers['content-length']), BR.length);
    assert.deepEqual(res.body, BR);
    assert.equal(zlib.brotliDecompressSync(res.body).toString(), BUNDLE);
  });

  it('serves the .gz sibling for Accept-Encoding: gzip', T, async () => {
    const res = await get('/bundle.js', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.match(res.headers['content-type'] ?? '', /^(text|application)\/javascript/i);
    assert.match(res.headers.vary ?? '', /accept-encoding/i);
    assert.deepEqual(res.body, GZ);
  });

  it('picks a sibling the client accepts when it offers several encodings', T, async () => {
    const res = await get('/bundle.js', { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(res.status, 200);
    const ce = res.headers['content-encoding'];
    assert.ok(ce === 'br' || ce === 'gzip', `Content-Encoding ${ce}`);
    assert.deepEqual(res.body, ce === 'br' ? BR : GZ);
  });

  it('serves the plain file without a matching Accept-Encoding', T, async () => {
    for (const headers of [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'deflate' }]) {
      const res = await get('/bundle.js', { headers });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], undefined, `Accept-Encoding ${headers['accept-encoding']}`);
      assert.equal(res.text, BUNDLE);
    }
  });

  it('uses only the siblings that exist', T, async () => {
    const br = await get('/data.json', { headers: { 'accept-encoding': 'br' } });
    assert.equal(br.status, 200);
    assert.equal(br.headers['content-encoding'], undefined);
    assert.equal(br.text, DATA_JSON);
    const gz = await get('/data.json', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(gz.headers['content-type'] ?? '', /^application\/json/i);
    assert.deepEqual(gz.body, DATA_GZ);
  });

  it('HEAD on a precompressed file reports the sibling it would send', T, async () => {
    const res = await get('/bundle.js', { method: 'HEAD', headers: { 'accept-encoding': 'br' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(Number(res.headers['content-length']), BR.length);
  });

  it('ignores the query string of unsigned requests', T, async () => {
    const res = await get('/style.css?v=123&cache=bust');
    assert.equal(res.status, 200);
    assert.equal(res.text, SITE['style.css']);
  });

  it('decodes percent-escapes exactly once', T, async () => {
    for (const [p, want] of [
      ['/hello%20world.txt', 'HELLO-SPACE\n'],
      ['/100%25.txt', 'PERCENT-NAME\n'],
      ['/caf%C3%A9.txt', 'UTF8-NAME\n'],
    ]) {
      const res = await get(p);
      assert.equal(res.status, 200, p);
      assert.equal(res.text, want, p);
    }
    // Decoding twice would turn %2520 into a space and find the file.
    assert.equal((await get('/hello%2520world.txt')).status, 404);
  });

  it('serves names that merely contain two dots', T, async () => {
    const res = await get('/release..notes.txt');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'DOTDOT-IN-NAME\n');
  });

  it('answers traversal, NUL, bad escapes and over-long paths with 400 or 404 and stays up', T, async () => {
    const targets = [
      '/../index.html',
      '/../../../../etc/passwd',
      '/about/../index.html',
      '/about/..',
      '/nested/deep/../../about/',
      '/%2e%2e/index.html',
      '/%2E%2E/index.html',
      '/about/%2e%2e/index.html',
      '/about/%2E%2E/',
      '/.%2e/index.html',
      '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/about%2f..%2findex.html',
      '/about%2F%2E%2E%2Findex.html',
      '/..%2findex.html',
      '/..%5cindex.html',
      '/./index.html',
      '/about/./',
      '/about/.',
      '/index.html%00',
      '/index.html%00.txt',
      '/about/index.html%00.png',
      '/%00',
      '/%zz',
      '/%',
      '/index.html%',
      '/index.htm%6',
      '/%G0index.html',
      '/%C0%AE%C0%AE/index.html',
      `/${'a'.repeat(1500)}`,
      `/${'about/'.repeat(200)}index.html`,
      `/${'%61'.repeat(400)}`,
    ];
    for (const target of targets) {
      const res = await rawRequest(srv.port, rawHead('GET', target, srv.port)).catch((e) => e);
      const label = target.length > 80 ? `${target.slice(0, 60)}... (${target.length} bytes)` : target;
      assert.ok(!(res instanceof Error), `${label}: no response (${res.message})`);
      assert.ok(res.status === 400 || res.status === 404, `${label}: status ${res.status}`);
      for (const m of FOREIGN_MARKERS) assert.ok(!res.text.includes(m), `${label}: body contains ${m}`);
      assert.ok(res.headers['x-amz-request-id'], `${label}: no x-amz-request-id`);
      assertFreshDate(res.headers, label);
    }
    const head = await rawRequest(srv.port, rawHead('HEAD', '/../index.html', srv.port), { head: true });
    assert.ok(head.status === 400 || head.status === 404, `HEAD /../index.html: status ${head.status}`);
    assert.equal((await get('/healthz')).status, 200, 'server stopped answering after the bad paths');
    assert.equal(srv.proc.exitCode, null, 'server exited');
  });
});

describe('static website with SPA fallback', () => {
  let srv;
  let site;
  before(async () => {
    site = await makeTree({ 'index.html': INDEX, '404.html': NOT_FOUND, 'style.css': SITE['style.css'] });
    srv = await startServer({ siteDir: site, config: { site: { errorDocument: '404.html', spaFallback: true } } });
  });
  after(async () => {
    await srv?.stop();
    await rmTree(site);
  });
  const get = (p, opts) => request(srv.url, p, opts);

  it('serves index.html with 200 for unknown paths without an extension', T, async () => {
    for (const p of ['/dashboard', '/dashboard/settings', '/users/42/edit', '/v1.2/users']) {
      const res = await get(p);
      assert.equal(res.status, 200, `${p}: status ${res.status}`);
      assert.equal(res.text, INDEX, p);
      assert.match(res.headers['content-type'] ?? '', /^text\/html;\s*charset=utf-8$/i, p);
    }
    const head = await get('/dashboard', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(INDEX));
  });

  it('still answers 404 (with the error document) for unknown paths with an extension', T, async () => {
    for (const p of ['/missing.js', '/img/missing.png', '/docs/guide.pdf', '/dashboard/app.css']) {
      const res = await get(p);
      assert.equal(res.status, 404, `${p}: status ${res.status}`);
      assert.equal(res.text, NOT_FOUND, p);
    }
  });

  it('serves existing files as they are', T, async () => {
    const css = await get('/style.css');
    assert.equal(css.status, 200);
    assert.equal(css.text, SITE['style.css']);
    assert.match(css.headers['content-type'] ?? '', /^text\/css/i);
    assert.equal((await get('/')).text, INDEX);
  });
});

describe('static website with a custom index document', () => {
  let srv;
  let site;
  before(async () => {
    site = await makeTree({ 'start.html': '<p>START-ROOT</p>', 'sub/start.html': '<p>START-SUB</p>' });
    srv = await startServer({
      siteDir: site,
      config: { site: { indexDocument: 'start.html', errorDocument: 'absent-error-doc.html' } },
    });
  });
  after(async () => {
    await srv?.stop();
    await rmTree(site);
  });
  const get = (p, opts) => request(srv.url, p, opts);

  it('serves site.indexDocument for / and folder/', T, async () => {
    const root = await get('/');
    assert.equal(root.status, 200);
    assert.equal(root.text, '<p>START-ROOT</p>');
    assert.match(root.headers['content-type'] ?? '', /^text\/html/i);
    const sub = await get('/sub/');
    assert.equal(sub.status, 200);
    assert.equal(sub.text, '<p>START-SUB</p>');
    const redirect = await get('/sub');
    assert.equal(redirect.status, 302);
    assert.equal(new URL(redirect.headers.location, srv.url).pathname, '/sub/');
  });

  it('answers a plain 404 when the configured error document is not in the bucket', T, async () => {
    const res = await get('/index.html');
    assert.equal(res.status, 404);
    assert.equal((await get('/healthz')).status, 200);
  });
});
