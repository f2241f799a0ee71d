// server.test.mjs - the HTTP server itself, end to end against build/cloudlet:
// health and discovery endpoints, Date and request ids, keep-alive, pipelining,
// 100-continue, header/body/connection/idle limits, graceful shutdown, the
// access log, config validation, and routing of every request class to the
// right service and error shape (services not built yet must still answer
// cleanly in their own shape).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import {
  startServer,
  tryServe,
  makeTree,
  rmTree,
  request,
  RawConn,
  rawRequest,
  rawHead,
  sleep,
  assertFreshDate,
  assertJsonError,
  assertS3Error,
  assertStsError,
  fakeSigV4,
} from './helpers.mjs';

const T = { timeout: 20000 };
const INDEX = '<!doctype html><title>home</title><p>SERVER-INDEX-MARKER</p>\n';

const cognito = (op, body = '{}', extra = {}) => ({
  method: 'POST',
  headers: {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': `AWSCognitoIdentityProviderService.${op}`,
    ...extra,
  },
  body,
});
const stsForm = (body, extra = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...extra },
  body,
});
const PRESIGNED_QUERY =
  'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTESTEXAMPLE0001%2F20250101%2Fus-east-1%2Fs3%2Faws4_request' +
  '&X-Amz-Date=20250101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=' +
  'a'.repeat(64);

describe('basics (default config)', () => {
  let srv;
  let site;
  before(async () => {
    site = await makeTree({ 'index.html': INDEX });
    srv = await startServer({ siteDir: site });
  });
  after(async () => {
    await srv?.stop();
    await rmTree(site);
  });

  it('GET /healthz answers 200', T, async () => {
    const res = await request(srv.url, '/healthz');
    assert.equal(res.status, 200);
    assertFreshDate(res.headers);
  });

  it('GET /.well-known/cloudlet.json describes this server', T, async () => {
    const res = await request(srv.url, '/.well-known/cloudlet.json');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/i);
    const doc = JSON.parse(res.text);
    assert.equal(doc.region, 'us-east-1');
    assert.equal(doc.endpoint, `http://127.0.0.1:${srv.port}`);
    assert.equal(doc.siteBucket, 'site');
    assert.ok(Array.isArray(doc.functions), 'functions is not an array');
  });

  it('every response carries an accurate Date and a unique request id in its service\'s header', T, async () => {
    const cases = [
      ['healthz', '/healthz', {}, 'either'],
      ['well-known', '/.well-known/cloudlet.json', {}, 'either'],
      ['website 200', '/', {}, 'x-amz-request-id'],
      ['website 404', '/no-such-page', {}, 'x-amz-request-id'],
      ['cognito', '/', cognito('SignUp', '{"ClientId":"x","Username":"u","Password":"p"}'), 'x-amzn-requestid'],
      ['sts', '/', stsForm('Action=GetCallerIdentity&Version=2011-06-15'), 'x-amzn-requestid'],
      ['lambda', '/2015-03-31/functions', {}, 'x-amzn-requestid'],
      ['s3 (signed)', '/somebucket/somekey', { headers: fakeSigV4() }, 'x-amz-request-id'],
    ];
    const ids = new Set();
    for (const [what, p, opts, header] of cases) {
      const res = await request(srv.url, p, opts);
      assertFreshDate(res.headers, what);
      const id = header === 'either' ? res.headers['x-amz-request-id'] ?? res.headers['x-amzn-requestid'] : res.headers[header];
      assert.ok(id, `${what}: no ${header === 'either' ? 'request id' : header} header (status ${res.status})`);
      assert.ok(!ids.has(id), `${what}: request id ${id} was already used`);
      ids.add(id);
    }
  });

  it('keeps one connection alive across sequential requests', T, async () => {
    const c = await RawConn.open(srv.port);
    try {
      for (const p of ['/healthz', '/.well-known/cloudlet.json', '/', '/no-such-page']) {
        await c.write(rawHead('GET', p, srv.port));
        const res = await c.readResponse();
        assert.ok(res.status === 200 || (p === '/no-such-page' && res.status === 404), `${p}: status ${res.status}`);
        assert.notEqual((res.headers.connection ?? '').toLowerCase(), 'close', `${p}: server answered Connection: close`);
        assert.equal(c.closed, false, `server closed the connection after ${p}`);
      }
    } finally {
      c.close();
    }
  });

  it('answers pipelined requests in order on one connection', T, async () => {
    const c = await RawConn.open(srv.port);
    try {
      await c.write(
        rawHead('GET', '/.well-known/cloudlet.json', srv.port) + rawHead('GET', '/healthz', srv.port) + rawHead('GET', '/', srv.port),
      );
      const a = await c.readResponse();
      const b = await c.readResponse();
      const d = await c.readResponse();
      assert.equal(a.status, 200);
      assert.equal(JSON.parse(a.text).siteBucket, 'site');
      assert.equal(b.status, 200);
      assert.equal(d.status, 200);
      assert.ok(d.text.includes('SERVER-INDEX-MARKER'), 'third response is not the index page');
    } finally {
      c.close();
    }
  });

  it('closes the connection after a request with Connection: close', T, async () => {
    const c = await RawConn.open(srv.port);
    try {
      await c.write(rawHead('GET', '/healthz', srv.port, { Connection: 'close' }));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(await c.waitClosed(3000), true, 'connection still open 3 s after Connection: close');
    } finally {
      c.close();
    }
  });

  it('sends 100 Continue before the body of an Expect: 100-continue request', T, async () => {
    const body = JSON.stringify({ ClientId: 'nope', Username: 'u', Password: 'Passw0rd!' });
    const c = await RawConn.open(srv.port);
    try {
      await c.write(
        rawHead('POST', '/', srv.port, {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': 'AWSCognitoIdentityProviderService.SignUp',
          'Content-Length': Buffer.byteLength(body),
          Expect: '100-continue',
        }),
      );
      const interim = await c.readResponse({ timeoutMs: 3000 });
      assert.equal(interim.status, 100, `expected 100 Continue before sending the body, got ${interim.status}`);
      await c.write(body);
      const res = await c.readResponse();
      assertJsonError(res, 'SignUp after 100-continue');
    } finally {
      c.close();
    }
  });

  it('refuses huge request headers with 431 or 400 and keeps serving', T, async () => {
    const res = await rawRequest(srv.port, rawHead('GET', '/healthz', srv.port, { 'X-Pad': 'a'.repeat(256 * 1024) })).catch((e) => e);
    assert.ok(!(res instanceof Error), `no response to 256 KiB of headers: ${res.message}`);
    assert.ok([400, 431].includes(res.status), `status ${res.status}`);
    assert.equal((await request(srv.url, '/healthz')).status, 200);
  });

  it('unsigned non-GET requests to website paths get 405 or 403 and change nothing', T, async () => {
    for (const [method, p, body] of [
      ['PUT', '/index.html', 'pwned'],
      ['DELETE', '/', undefined],
      ['DELETE', '/index.html', undefined],
      ['PATCH', '/index.html', 'pwned'],
      ['POST', '/index.html', 'pwned'],
    ]) {
      const res = await request(srv.url, p, { method, body, headers: body ? { 'content-type': 'text/plain' } : {} });
      assert.ok([403, 405].includes(res.status), `${method} ${p}: status ${res.status}`);
    }
    const after = await request(srv.url, '/index.html');
    assert.equal(after.status, 200);
    assert.equal(after.text, INDEX);
  });

  it('POST / that names no service is refused with a 4xx, not routed to a handler', T, async () => {
    const plain = await request(srv.url, '/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.ok([400, 403, 405].includes(plain.status), `POST / without X-Amz-Target: status ${plain.status}`);
    const other = await request(srv.url, '/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' },
      body: '{}',
    });
    assert.ok(other.status >= 400 && other.status < 500, `POST / with a foreign X-Amz-Target: status ${other.status}`);
    assert.equal((await request(srv.url, '/healthz')).status, 200);
  });

  it('Cognito User Pools calls answer JSON errors with __type', T, async () => {
    assertJsonError(await request(srv.url, '/', cognito('SignUp', '{"ClientId":"nope","Username":"u","Password":"p"}')), 'SignUp');
    assertJsonError(await request(srv.url, '/', cognito('NoSuchOperation')), 'unknown operation');
    assertJsonError(await request(srv.url, '/', cognito('InitiateAuth', '{not json')), 'malformed JSON');
  });

  it('Cognito Identity calls answer JSON errors with __type', T, async () => {
    const res = await request(srv.url, '/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
      body: '{"IdentityPoolId":"us-east-1:00000000-0000-0000-0000-000000000000"}',
    });
    assertJsonError(res, 'GetId');
  });

  it('STS form posts answer <ErrorResponse><Error><Code>', T, async () => {
    assertStsError(
      await request(
        srv.url,
        '/',
        stsForm(
          'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fx' +
            '&RoleSessionName=s1&WebIdentityToken=not-a-jwt',
        ),
      ),
      'AssumeRoleWithWebIdentity',
    );
    assertStsError(await request(srv.url, '/', stsForm('Action=GetCallerIdentity&Version=2011-06-15')), 'GetCallerIdentity');
  });

  it('Lambda API calls answer JSON errors with __type', T, async () => {
    assertJsonError(await request(srv.url, '/2015-03-31/functions'), 'ListFunctions (unsigned)');
    assertJsonError(await request(srv.url, '/2015-03-31/functions/', { headers: fakeSigV4('lambda') }), 'ListFunctions (bad signature)');
    assertJsonError(
      await request(srv.url, '/2015-03-31/functions/nope/invocations', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
      'Invoke (unsigned)',
    );
  });

  it('signed requests for S3 answer XML <Error><Code> in both SigV4 forms', T, async () => {
    assertS3Error(await request(srv.url, '/somebucket/somekey', { headers: fakeSigV4() }), 'header-signed GET');
    assertS3Error(await request(srv.url, `/somebucket/somekey?${PRESIGNED_QUERY}`), 'presigned GET');
    assertS3Error(
      await request(srv.url, '/somebucket/somekey', { method: 'PUT', headers: fakeSigV4(), body: 'hello' }),
      'header-signed PUT',
    );
    assertS3Error(await request(srv.url, '/', { headers: fakeSigV4() }), 'header-signed ListBuckets');
  });

  it('a signed request goes to the service it names before S3 (routing rules 3-5 before 6)', T, async () => {
    assertJsonError(
      await request(srv.url, '/', cognito('AdminGetUser', '{"UserPoolId":"us-east-1_x","Username":"u"}', fakeSigV4('cognito-idp'))),
      'signed Cognito call',
    );
    assertStsError(
      await request(srv.url, '/', stsForm('Action=GetCallerIdentity&Version=2011-06-15', fakeSigV4('sts'))),
      'signed STS call',
    );
    assertJsonError(
      await request(srv.url, '/2015-03-31/functions/nope/invocations', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...fakeSigV4('lambda') },
        body: '{}',
      }),
      'signed Lambda invoke',
    );
  });

  it('a bogus signature on a website path never serves the website object', T, async () => {
    for (const [what, p, headers] of [
      ['Authorization header', '/index.html', fakeSigV4()],
      ['presigned query', `/index.html?${PRESIGNED_QUERY}`, {}],
      ['presigned query on the site bucket', `/site/index.html?${PRESIGNED_QUERY}`, {}],
    ]) {
      const res = await request(srv.url, p, { headers });
      assertS3Error(res, what);
      assert.ok(!res.text.includes('SERVER-INDEX-MARKER'), `${what}: served the site's index.html`);
    }
  });

  it('answers a CORS preflight for the JSON APIs', T, async () => {
    const res = await request(srv.url, '/', {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-amz-target,x-amz-user-agent',
      },
    });
    assert.ok(res.status === 200 || res.status === 204, `status ${res.status}`);
    assert.ok(res.headers['access-control-allow-origin'], 'no Access-Control-Allow-Origin');
    assert.match(res.headers['access-control-allow-methods'] ?? '', /POST|\*/i);
    assert.match(res.headers['access-control-allow-headers'] ?? '', /x-amz-target|\*/i);
  });
});

describe('body and header limits', () => {
  let srv;
  const MAX = 1024;
  before(async () => {
    srv = await startServer({ config: { limits: { maxBodyBytes: MAX, maxHeaderBytes: 16384 } } });
  });
  after(async () => {
    await srv?.stop();
  });

  // A SignUp JSON body of exactly n bytes.
  const signUpBody = (n) => {
    const head = '{"ClientId":"nope","Username":"u","Password":"';
    const tail = '"}';
    return head + 'p'.repeat(n - head.length - tail.length) + tail;
  };
  const cognitoRaw = (body, extra = {}) =>
    rawHead('POST', '/', srv.port, {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'AWSCognitoIdentityProviderService.SignUp',
      ...extra,
    }) + body;

  it('a JSON-service body one byte past limits.maxBodyBytes gets 413 with __type', T, async () => {
    const body = signUpBody(MAX + 1);
    const res = await rawRequest(srv.port, cognitoRaw(body, { 'Content-Length': body.length }));
    assert.equal(res.status, 413);
    assertJsonError(res, 'oversized SignUp');
  });

  it('a body of exactly limits.maxBodyBytes is accepted (no 413)', T, async () => {
    const body = signUpBody(MAX);
    assert.equal(body.length, MAX);
    const res = await request(srv.url, '/', cognito('SignUp', body));
    assert.notEqual(res.status, 413);
    assertJsonError(res, 'SignUp at the limit');
  });

  it('a chunked body past the limit gets 413 too', T, async () => {
    const body = signUpBody(4 * MAX);
    let chunked = '';
    for (let i = 0; i < body.length; i += 256) {
      const part = body.slice(i, i + 256);
      chunked += `${part.length.toString(16)}\r\n${part}\r\n`;
    }
    chunked += '0\r\n\r\n';
    const res = await rawRequest(srv.port, cognitoRaw(chunked, { 'Transfer-Encoding': 'chunked' }));
    assert.equal(res.status, 413);
    assertJsonError(res, 'oversized chunked SignUp');
  });

  it('a signed S3 PUT past the limit gets 413 <Error><Code>EntityTooLarge', T, async () => {
    const sig = fakeSigV4();
    const body = 'x'.repeat(4 * MAX);
    const res = await rawRequest(
      srv.port,
      rawHead('PUT', '/somebucket/big.bin', srv.port, {
        Authorization: sig.authorization,
        'X-Amz-Date': sig['x-amz-date'],
        'X-Amz-Content-Sha256': sig['x-amz-content-sha256'],
        'Content-Type': 'application/octet-stream',
        'Content-Length': body.length,
      }) + body,
    );
    assert.equal(res.status, 413);
    assert.equal(assertS3Error(res, 'oversized PUT'), 'EntityTooLarge');
  });

  it('a Lambda invoke past the limit gets 413 with __type', T, async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(4 * MAX) });
    const res = await rawRequest(
      srv.port,
      rawHead('POST', '/2015-03-31/functions/nope/invocations', srv.port, {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
      }) + body,
    );
    assert.equal(res.status, 413);
    assertJsonError(res, 'oversized invoke');
  });

  it('headers within limits.maxHeaderBytes are served', T, async () => {
    const res = await request(srv.url, '/healthz', { headers: { 'x-pad': 'a'.repeat(2000) } });
    assert.equal(res.status, 200);
  });

  it('headers past limits.maxHeaderBytes get 431 or 400 and the server keeps serving', T, async () => {
    const oneBig = await rawRequest(srv.port, rawHead('GET', '/healthz', srv.port, { 'X-Pad': 'a'.repeat(40000) })).catch((e) => e);
    assert.ok(!(oneBig instanceof Error), `no response to one 40 kB header: ${oneBig.message}`);
    assert.ok([400, 431].includes(oneBig.status), `one 40 kB header: status ${oneBig.status}`);

    const many = {};
    for (let i = 0; i < 400; i++) many[`X-Pad-${i}`] = 'b'.repeat(100);
    const manyRes = await rawRequest(srv.port, rawHead('GET', '/healthz', srv.port, many)).catch((e) => e);
    assert.ok(!(manyRes instanceof Error), `no response to 400 headers: ${manyRes.message}`);
    assert.ok([400, 431].includes(manyRes.status), `400 headers of 100 bytes: status ${manyRes.status}`);

    assert.equal((await request(srv.url, '/healthz')).status, 200);
  });
});

describe('connection limit', () => {
  let srv;
  const MAX = 4;
  before(async () => {
    srv = await startServer({ config: { threads: 1, limits: { maxConnections: MAX } } });
  });
  after(async () => {
    await srv?.stop();
  });

  it('serves at most limits.maxConnections connections at once and frees slots on close', T, async () => {
    await sleep(200); // let the readiness probe's connection go away
    const conns = [];
    let served = 0;
    for (let i = 0; i < MAX + 4; i++) {
      let c;
      try {
        c = await RawConn.open(srv.port, { timeoutMs: 1500 });
      } catch {
        continue;
      }
      conns.push(c);
      await c.write(rawHead('GET', '/healthz', srv.port));
      try {
        const res = await c.readResponse({ timeoutMs: 1500 });
        if (res.status === 200) served++;
      } catch {
        /* closed or never answered: refused */
      }
    }
    for (const c of conns) c.close();
    assert.ok(served >= 1 && served <= MAX, `${served} of ${MAX + 4} concurrent keep-alive connections were served (limit ${MAX})`);

    let status = 0;
    for (let i = 0; i < 30 && status !== 200; i++) {
      await sleep(100);
      status = await request(srv.url, '/healthz').then((r) => r.status, () => 0);
    }
    assert.equal(status, 200, 'a new connection is not served after the others closed');
  });
});

describe('idle connections (limits.idleTimeoutSeconds = 1)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { limits: { idleTimeoutSeconds: 1 } } });
  });
  after(async () => {
    await srv?.stop();
  });

  it('drops a client that connects and sends nothing', T, async () => {
    const c = await RawConn.open(srv.port);
    const t0 = Date.now();
    try {
      assert.equal(await c.waitClosed(5000), true, 'silent connection still open after 5 s');
      assert.ok(Date.now() - t0 >= 500, `dropped after ${Date.now() - t0} ms, before the idle timeout`);
    } finally {
      c.close();
    }
  });

  it('drops a client that stops in the middle of its request head', T, async () => {
    const c = await RawConn.open(srv.port);
    try {
      await c.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\n`);
      assert.equal(await c.waitClosed(5000), true, 'half-sent request still open after 5 s');
    } finally {
      c.close();
    }
  });

  it('drops an idle keep-alive connection after its last response', T, async () => {
    const c = await RawConn.open(srv.port);
    try {
      await c.write(rawHead('GET', '/healthz', srv.port));
      assert.equal((await c.readResponse()).status, 200);
      assert.equal(await c.waitClosed(5000), true, 'idle keep-alive connection still open after 5 s');
    } finally {
      c.close();
    }
  });

  it('serves a client that pauses for less than the timeout', T, async () => {
    const c = await RawConn.open(srv.port);
    try {
      await sleep(300);
      await c.write(rawHead('GET', '/healthz', srv.port));
      assert.equal((await c.readResponse()).status, 200);
    } finally {
      c.close();
    }
  });
});

describe('access log', () => {
  const tag = crypto.randomBytes(6).toString('hex');
  const secrets = {
    query: `QSECRET${tag}`,
    headerSig: crypto.randomBytes(32).toString('hex'),
    headerKey: `AKIALOG${tag.toUpperCase()}`,
    presignSig: crypto.randomBytes(32).toString('hex'),
    token: `TOKSECRET${tag}`,
    password: `PWSECRET${tag}`,
  };
  let srv;
  let site;
  const seen = [];
  before(async () => {
    site = await makeTree({ 'index.html': INDEX });
    srv = await startServer({ siteDir: site });
    const probes = [
      ['GET', `/log-probe-${tag}/a?access_token=${secrets.query}`, `/log-probe-${tag}/a`, {}],
      ['HEAD', '/index.html', '/index.html', {}],
      ['GET', '/index.html', '/index.html', { headers: fakeSigV4('s3', secrets.headerSig, secrets.headerKey) }],
      [
        'GET',
        `/site/index.html?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDQUERY${tag}%2F20250101%2Fus-east-1%2Fs3%2Faws4_request` +
          `&X-Amz-Date=20250101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Security-Token=${secrets.token}` +
          `&X-Amz-Signature=${secrets.presignSig}`,
        '/site/index.html',
        {},
      ],
      ['POST', '/', '/', cognito('SignUp', JSON.stringify({ ClientId: 'nope', Username: 'u', Password: secrets.password }))],
    ];
    for (const [method, p, logged, opts] of probes) {
      const res = await request(srv.url, p, { ...opts, method });
      const rid = res.headers['x-amz-request-id'] ?? res.headers['x-amzn-requestid'];
      seen.push({ method, logged, status: res.status, rid });
    }
    // The log may be buffered: a graceful stop must flush it.
    await srv.stop();
  });
  after(async () => {
    await srv?.stop();
    await rmTree(site);
  });

  const holds = (v, want) =>
    v === want || (v && typeof v === 'object' && Object.values(v).some((x) => holds(x, want)));

  it('writes one JSON line per request with method, path, status and the request id', T, () => {
    const logs = srv.logs();
    assert.ok(logs.length > 0, `no JSON lines on stderr:\n${srv.stderr().slice(0, 2000)}`);
    for (const s of seen) {
      assert.ok(s.rid, `${s.method} ${s.logged}: response had no request id`);
      const lines = logs.filter((l) => holds(l, s.rid));
      assert.equal(lines.length, 1, `${s.method} ${s.logged}: ${lines.length} log lines carry request id ${s.rid}`);
      const [l] = lines;
      assert.equal(l.method, s.method, `log line ${JSON.stringify(l)}`);
      assert.equal(l.path, s.logged, `log line ${JSON.stringify(l)}`);
      assert.equal(Number(l.status), s.status, `log line ${JSON.stringify(l)}`);
    }
    assert.equal(logs.filter((l) => String(l.path ?? '').startsWith(`/log-probe-${tag}`)).length, 1);
  });

  it('never logs query strings, Authorization values or bodies', T, () => {
    const text = srv.stderr();
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `stderr contains the ${what} secret`);
    }
    assert.ok(!text.includes('AWS4-HMAC-SHA256 Credential='), 'stderr contains an Authorization header value');
    for (const l of srv.logs()) {
      if ('path' in l) assert.ok(!String(l.path).includes('?'), `a logged path has a query: ${l.path}`);
    }
  });
});

describe('accessLog: false', () => {
  it('writes no access log lines', T, async () => {
    const srv = await startServer({ config: { accessLog: false } });
    try {
      const res = await request(srv.url, '/nolog-probe');
      assert.equal(res.status, 404);
    } finally {
      await srv.stop();
    }
    assert.ok(!srv.stderr().includes('nolog-probe'), `access logged although disabled:\n${srv.stderr().slice(0, 2000)}`);
  });
});

describe('configuration', () => {
  it('accepts a config that sets every field, and /.well-known reflects it', T, async () => {
    const srv = await startServer({
      config: ({ port, dataDir }) => ({
        listen: `127.0.0.1:${port}`,
        dataDir,
        region: 'eu-west-3',
        accountId: '123456789012',
        endpoint: 'http://cloudlet.example.test:9000',
        threads: 2,
        limits: { maxBodyBytes: 65536, maxHeaderBytes: 16384, maxConnections: 64, idleTimeoutSeconds: 30 },
        storage: { mapSizeMB: 256 },
        site: { bucket: 'www', indexDocument: 'index.html', errorDocument: '404.html', spaFallback: false },
        accessLog: true,
      }),
    });
    try {
      const doc = JSON.parse((await request(srv.url, '/.well-known/cloudlet.json')).text);
      assert.equal(doc.region, 'eu-west-3');
      assert.equal(doc.endpoint, 'http://cloudlet.example.test:9000');
      assert.equal(doc.siteBucket, 'www');
    } finally {
      await srv.stop();
    }
  });

  const refused = [
    ['an unknown top-level field', { region: 'us-east-1', bogusField: 1 }, 'bogusField'],
    ['an unknown nested field', { limits: { maxConnectionz: 5 } }, 'maxConnectionz'],
    ['a wrong type in a nested field', { limits: { maxBodyBytes: 'big' } }, 'limits.maxBodyBytes'],
    ['an invalid value in a nested field', { limits: { maxBodyBytes: -5 } }, 'limits.maxBodyBytes'],
    ['a string for a boolean', { site: { spaFallback: 'yes' } }, 'site.spaFallback'],
    ['a number for a string', { region: 42 }, 'region'],
    ['a number for an object', { limits: 5 }, 'limits'],
    ['a negative thread count', { threads: -1 }, 'threads'],
  ];
  for (const [what, config, field] of refused) {
    it(`refuses to start with ${what}, naming ${field}`, T, async () => {
      const r = await tryServe({ config });
      assert.equal(r.running, false, `still running 5 s after start with ${JSON.stringify(config)}`);
      assert.notEqual(r.code, 0, 'exit status 0');
      assert.ok(r.stderr.includes(field), `stderr does not name ${field}: ${JSON.stringify(r.stderr)}`);
    });
  }

  it('refuses to start with invalid JSON', T, async () => {
    const r = await tryServe({ config: '{"region": "us-east-1",' });
    assert.equal(r.running, false, 'still running 5 s after start with invalid JSON');
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.trim().length > 0, 'nothing on stderr');
  });

  it('refuses to start with a JSON value that is not an object', T, async () => {
    const r = await tryServe({ config: '[1, 2]' });
    assert.equal(r.running, false);
    assert.notEqual(r.code, 0);
  });

  it('refuses to start when the config file does not exist', T, async () => {
    const r = await tryServe({ args: ['--config', '/nonexistent/cloudlet-it/cloudlet.json'] });
    assert.equal(r.running, false);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes('/nonexistent/cloudlet-it/cloudlet.json'), `stderr does not name the file: ${r.stderr}`);
  });

  it('refuses an unknown command-line flag', T, async () => {
    const r = await tryServe({ args: ['--no-such-flag'] });
    assert.equal(r.running, false);
    assert.notEqual(r.code, 0);
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM exits 0 promptly and closes idle keep-alive connections', T, async () => {
    const srv = await startServer();
    const c = await RawConn.open(srv.port);
    try {
      await c.write(rawHead('GET', '/healthz', srv.port));
      assert.equal((await c.readResponse()).status, 200);
      const r = await srv.stop();
      assert.equal(r.forced, false, 'did not exit within 5 s of SIGTERM');
      assert.equal(r.code, 0, `exit ${r.code} signal ${r.signal}`);
      assert.equal(await c.waitClosed(1000), true, 'idle connection left open');
    } finally {
      c.close();
      await srv.stop();
    }
  });

  it('SIGINT exits 0', T, async () => {
    const srv = await startServer();
    const r = await srv.stop({ signal: 'SIGINT' });
    assert.equal(r.forced, false, 'did not exit within 5 s of SIGINT');
    assert.equal(r.code, 0, `exit ${r.code} signal ${r.signal}`);
  });

  it('finishes an in-flight response after SIGTERM, then exits 0', { timeout: 40000 }, async () => {
    const big = crypto.randomBytes(48 * 1024 * 1024);
    const want = crypto.createHash('sha256').update(big).digest('hex');
    const site = await makeTree({ 'big.bin': big });
    let srv;
    try {
      srv = await startServer({ siteDir: site });
      const got = await new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: srv.port, path: '/big.bin', agent: false }, (res) => {
          const hash = crypto.createHash('sha256');
          let n = 0;
          let signalled = false;
          res.on('data', (chunk) => {
            hash.update(chunk);
            n += chunk.length;
            if (!signalled) {
              // Stall the download, stop the server mid-response, then read on.
              signalled = true;
              res.pause();
              srv.proc.kill('SIGTERM');
              setTimeout(() => res.resume(), 500);
            }
          });
          res.on('end', () => resolve({ status: res.statusCode, n, sha: hash.digest('hex') }));
          res.on('error', reject);
          res.on('aborted', () => reject(new Error(`response aborted after ${n} bytes`)));
        });
        req.setTimeout(20000, () => req.destroy(new Error('download timed out')));
        req.on('error', reject);
      });
      assert.equal(got.status, 200);
      assert.equal(got.n, big.length, `received ${got.n} of ${big.length} bytes`);
      assert.equal(got.sha, want);
      const exit = await Promise.race([srv.exited, sleep(5000).then(() => null)]);
      assert.ok(exit, 'still running 5 s after the in-flight response completed');
      assert.equal(exit.code, 0, `exit ${exit.code} signal ${exit.signal}`);
    } finally {
      await srv?.stop();
      await rmTree(site);
    }
  });
});
