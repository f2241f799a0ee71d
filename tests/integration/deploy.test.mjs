// deploy.test.mjs - `cloudlet site deploy` and `cloudlet site rollback` against
// a running server: a deploy replaces the whole site as one version, switched
// atomically and visible at once; rollback returns to the previous version;
// readers during repeated deploys only ever see whole, current-or-newer versions.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  startServer,
  makeTree,
  rmTree,
  request,
  runCli,
  deploySite,
  rollbackSite,
} from './helpers.mjs';

const T = { timeout: 20000 };
const body = (n) => `version ${n}\n`;

// A site whose a.txt and b.txt both name version n, plus a file only version n has.
const versionTree = (n) =>
  makeTree({
    'index.html': `<!doctype html><p>v${n}</p>\n`,
    'a.txt': body(n),
    'b.txt': body(n),
    [`only-v${n}.txt`]: `only in ${n}\n`,
  });

describe('site deploy and rollback while serving', () => {
  const trees = new Map();
  let srv;
  before(async () => {
    for (let n = 1; n <= 8; n++) trees.set(n, await versionTree(n));
    srv = await startServer({ siteDir: trees.get(1) });
  });
  after(async () => {
    await srv?.stop();
    for (const dir of trees.values()) await rmTree(dir);
  });
  const get = (p, opts) => request(srv.url, p, opts);
  const version = async (p) => {
    const res = await get(p);
    assert.equal(res.status, 200, `${p}: status ${res.status}`);
    return res.text;
  };

  it('serves the version deployed before start', T, async () => {
    assert.equal(await version('/a.txt'), body(1));
    assert.equal(await version('/b.txt'), body(1));
    assert.equal((await get('/only-v1.txt')).status, 200);
  });

  it('serves a new deploy at once and drops files the new version lacks', T, async () => {
    const v1etag = (await get('/a.txt')).headers.etag;
    const r = await deploySite(trees.get(2), srv.dataDir);
    assert.equal(r.code, 0);
    assert.equal(await version('/a.txt'), body(2));
    assert.equal(await version('/b.txt'), body(2));
    assert.equal(await version('/'), '<!doctype html><p>v2</p>\n');
    assert.equal((await get('/only-v1.txt')).status, 404, 'a file of the old version is still served');
    assert.equal((await get('/only-v2.txt')).status, 200);
    // The old validator must not turn into a 304 for the new content.
    const cond = await get('/a.txt', { headers: { 'if-none-match': v1etag } });
    assert.equal(cond.status, 200, 'If-None-Match with the old version\'s ETag answered 304');
    assert.equal(cond.text, body(2));
  });

  it('rolls back to the previous version', T, async () => {
    const r = await rollbackSite(srv.dataDir);
    assert.equal(r.code, 0, `rollback exited ${r.code}: ${r.stderr}`);
    assert.equal(await version('/a.txt'), body(1));
    assert.equal(await version('/b.txt'), body(1));
    assert.equal((await get('/only-v1.txt')).status, 200);
    assert.equal((await get('/only-v2.txt')).status, 404, 'a file of the rolled-back version is still served');
  });

  it('a failed deploy changes nothing', T, async () => {
    const r = await runCli(['site', 'deploy', path.join(os.tmpdir(), 'cloudlet-it-no-such-dir'), '--data', srv.dataDir]);
    assert.notEqual(r.code, 0, 'deploying a missing folder exited 0');
    assert.ok(r.stderr.trim().length > 0, 'no message on stderr');
    assert.equal(await version('/a.txt'), body(1));
  });

  it('readers never see a stale or unknown version during repeated deploys', { timeout: 40000 }, async () => {
    const known = new Map([...trees.keys()].map((n) => [body(n), n]));
    let committed = 1; // the newest version whose deploy has completed
    let started = 1; // the newest version whose deploy has begun
    let stop = false;
    const problems = [];
    let reads = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

    const reader = async (file) => {
      while (!stop) {
        const floor = committed;
        const res = await request(srv.url, file, { agent }).catch((e) => e);
        const ceiling = started;
        reads++;
        if (res instanceof Error) {
          problems.push(`${file}: ${res.message}`);
          continue;
        }
        const n = known.get(res.text);
        if (res.status !== 200 || n === undefined) problems.push(`${file}: status ${res.status} body ${JSON.stringify(res.text.slice(0, 80))}`);
        else if (n < floor || n > ceiling) problems.push(`${file}: saw version ${n} while versions ${floor}..${ceiling} were possible`);
      }
    };
    const readers = [reader('/a.txt'), reader('/b.txt'), reader('/a.txt'), reader('/b.txt')];
    try {
      for (let n = 3; n <= 8; n++) {
        started = n;
        await deploySite(trees.get(n), srv.dataDir);
        committed = n;
        assert.equal(await version('/a.txt'), body(n), `a.txt right after deploy ${n}`);
        assert.equal(await version('/b.txt'), body(n), `b.txt right after deploy ${n}`);
        assert.equal((await request(srv.url, `/only-v${n - 1}.txt`)).status, 404, `only-v${n - 1}.txt after deploy ${n}`);
      }
    } finally {
      stop = true;
      await Promise.all(readers);
      agent.destroy();
    }
    assert.deepEqual(problems.slice(0, 10), [], `${problems.length} bad reads of ${reads}`);
    assert.ok(reads >= 20, `only ${reads} reads ran alongside the deploys`);
  });
});

describe('site CLI errors', () => {
  let data;
  before(async () => {
    data = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-it-'));
  });
  after(async () => {
    await rmTree(data);
  });

  it('rollback with nothing deployed exits non-zero with a message', T, async () => {
    const r = await rollbackSite(data);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.trim().length > 0, 'no message on stderr');
  });

  it('unknown commands exit non-zero', T, async () => {
    for (const args of [['site'], ['site', 'frobnicate', '--data', data], ['no-such-command']]) {
      const r = await runCli(args);
      assert.notEqual(r.code, 0, `cloudlet ${args.join(' ')} exited 0`);
    }
  });
});
