/**
 * The agent's HTTP endpoint, black box: `sockscope agent` as a child process on 127.0.0.1:<port 0> of this
 * namespace (loopback only), gathering every 200 ms.
 *   - /metrics: Prometheus text 0.0.4 by default, OpenMetrics 1.0 when Accept prefers it, a Content-Type always;
 *     HEAD; the landing page, /healthz, /api/snapshot;
 *   - self-metrics; one gather per interval whatever the number of scrapes;
 *   - bad input: unknown paths 404, other methods 405, malformed HTTP 400, oversized headers 431, slow or silent
 *     clients cut off (408) after read_timeout;
 *   - 200 concurrent scrapes and a handful of never-finishing clients: every scrape answered, the agent responsive;
 *   - an exporter-toolkit web config: TLS, basic auth with a bcrypt ($2y$) hash (401 without or with wrong
 *     credentials), and max_requests capping requests in flight (503 + Retry-After, counted);
 *   - client certificates: RequireAndVerifyClientCert (only certificates of client_ca_file) and
 *     RequireAnyClientCert (any certificate, but one is required).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { AgentProcess, cleanEnv, familyNames, firstGather, request, sampleValue, selfSignedCert, targetOf, tempDir, type Target } from '../helpers/agent.js';
import { sleep } from '../helpers/wait.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const READ_TIMEOUT_MS = 1000;

/** Raw bytes in, everything the server sends until it closes (or timeoutMs). */
function raw(t: Target, bytes: string, timeoutMs = 5000): Promise<{ text: string; closedAfterMs: number; how: string }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const s = net.connect(t.port!, t.host ?? '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closedAfterMs: Date.now() - t0, how: 'timeout' });
    }, timeoutMs);
    s.on('connect', () => s.write(bytes));
    s.on('data', (c) => (text += c.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - t0, how: 'closed' });
    });
  });
}

describe('agent HTTP endpoint', () => {
  let agent: AgentProcess;
  let t: Target;

  before(async () => {
    agent = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '200ms'], {
      env: cleanEnv({ SOCKSCOPE_OUTPUTS_PROMETHEUS_READ_TIMEOUT: `${READ_TIMEOUT_MS}ms`, SOCKSCOPE_OUTPUTS_PROMETHEUS_MAX_HEADER_BYTES: '4096' }),
    });
    t = targetOf(await agent.listening());
    await firstGather(t);
  });
  after(async () => {
    const exit = await agent?.stop();
    assert.equal(exit?.code, 0, agent?.tail());
  });

  test('/metrics: text 0.0.4 by default, OpenMetrics when Accept prefers it, a Content-Type always', async () => {
    const cases: [string | undefined, string][] = [
      [undefined, TEXT],
      ['text/plain', TEXT],
      ['*/*', TEXT],
      ['application/json', TEXT], // nothing acceptable: the text format, as client_golang does
      [PROMETHEUS_ACCEPT, OPENMETRICS],
      ['application/openmetrics-text;version=1.0.0', OPENMETRICS],
      ['application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=0.0.4;q=0.9', TEXT],
      ['application/openmetrics-text;version=2.0.0', TEXT], // a version we do not speak
    ];
    for (const [accept, type] of cases) {
      const r = await request(t, '/metrics', { headers: accept ? { Accept: accept } : {} });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], type, `Accept: ${accept}`);
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
      if (type === OPENMETRICS) assert.ok(r.body.endsWith('# EOF\n'), 'OpenMetrics ends with # EOF');
      else assert.doesNotMatch(r.body, /# EOF/);
      assert.match(r.body, /^sockscope_tcp_connections\{.*state="established".*\} \d+$/m);
    }
    const head = await request(t, '/metrics', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], TEXT);
    assert.equal(head.body, '');
  });

  test('the landing page, /healthz and /api/snapshot', async () => {
    const home = await request(t, '/');
    assert.equal(home.status, 200);
    assert.equal(home.headers['content-type'], 'text/html; charset=utf-8');
    for (const link of ['metrics', 'healthz', 'api/snapshot']) assert.match(home.body, new RegExp(`href="${link}"`));
    const health = await request(t, '/healthz');
    assert.equal(health.status, 200);
    assert.ok(health.headers['content-type']);
    assert.equal(health.body, 'ok\n');
    const snap = await request(t, '/api/snapshot');
    assert.equal(snap.status, 200);
    assert.equal(snap.headers['content-type'], 'application/json');
    const json = JSON.parse(snap.body);
    assert.equal(json.gathered, true);
    assert.ok(Date.now() - Date.parse(json.at) < 5000, 'recent');
    const netstat = json.metrics.filter((m: any) => m.name === 'netstat' || m.measurement === 'netstat');
    assert.equal(netstat.length, 1, `one netstat point (families merged): ${snap.body.slice(0, 300)}`);
    assert.ok(
      json.report.collectors.every((c: any) => c.ok),
      'every collector ok',
    );
  });

  test('self-metrics; one gather per interval however often it is scraped', async () => {
    const first = (await request(t, '/metrics')).body;
    const g0 = sampleValue(first, 'sockscope_gathers_total')!;
    const t0 = Date.now();
    // 60 scrapes as fast as they come back: none may cause a gather
    for (let i = 0; i < 60; i++) await request(t, '/metrics');
    await sleep(450);
    const text = (await request(t, '/metrics')).body;
    const elapsed = Date.now() - t0;
    const g1 = sampleValue(text, 'sockscope_gathers_total')!;
    assert.ok(g1 > g0, 'gathers go on');
    assert.ok(g1 - g0 <= Math.ceil(elapsed / 200) + 1, `${g1 - g0} gathers in ${elapsed} ms at 200 ms`);
    assert.equal(
      sampleValue(text, 'sockscope_build_info', { version: JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version }),
      1,
    );
    for (const c of ['netstat', 'netstat_port']) assert.equal(sampleValue(text, 'sockscope_collector_success', { collector: c }), 1, c);
    assert.equal(sampleValue(text, 'sockscope_gather_errors_total'), 0);
    const last = sampleValue(text, 'sockscope_last_gather_timestamp_seconds')!;
    assert.ok(Math.abs(Date.now() / 1000 - last) < 5, 'last gather is recent');
    assert.ok(sampleValue(text, 'sockscope_snapshot_duration_seconds')! >= 0);
    assert.ok(sampleValue(text, 'sockscope_agent_start_time_seconds')! <= Date.now() / 1000);
    assert.ok(sampleValue(text, 'sockscope_sockets_seen', { protocol: 'tcp', source: 'netlink' })! >= 1, 'at least our own listener');
    for (const f of ['sockscope_http_rejected_requests_total', 'sockscope_gathers_skipped_total', 'sockscope_dump_retries_total'])
      assert.ok(familyNames(text).has(f), f);
  });

  test('unknown paths 404, other methods 405, malformed HTTP 400, oversized headers 431', async () => {
    for (const path of ['/nope', '/metrics/', '/../etc/passwd', '/api', '/favicon.ico']) {
      const r = await request(t, path);
      assert.equal(r.status, 404, path);
      assert.ok(r.headers['content-type'], `${path}: a Content-Type`);
    }
    assert.equal((await request(t, '/metrics?x=1')).status, 200, 'a query string is ignored');
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await request(t, '/metrics', { method, body: method === 'POST' ? 'x' : undefined });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    for (const bytes of [
      'HELLO\r\n\r\n',
      'GET /metrics HTTP/9.9\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
      'GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
    ]) {
      const r = await raw(t, bytes);
      assert.match(r.text, /^HTTP\/1\.1 400 /, JSON.stringify(bytes));
      assert.equal(r.how, 'closed', 'the connection is closed after a 400');
    }
    const big = await raw(t, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    assert.match(big.text, /^HTTP\/1\.1 431 /);
    // the agent is fine afterwards
    assert.equal((await request(t, '/healthz')).status, 200);
  });

  test('slow and silent clients are cut off (408) after read_timeout', async () => {
    const t0 = Date.now();
    const silent = raw(t, '', 10_000);
    const trickle = new Promise<{ text: string; closedAfterMs: number }>((resolve) => {
      const s = net.connect(t.port!, '127.0.0.1');
      let text = '';
      let i = 0;
      const iv = setInterval(() => s.writable && s.write(i++ === 0 ? 'GET /metrics HTTP/1.1\r\n' : `X-Slow-${i}: y\r\n`), 100);
      s.on('data', (c) => (text += c));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(iv);
        resolve({ text, closedAfterMs: Date.now() - t0 });
      });
    });
    const [a, b] = await Promise.all([silent, trickle]);
    for (const [name, r] of [
      ['silent', a],
      ['trickling', b],
    ] as const) {
      assert.match(r.text, /^HTTP\/1\.1 408 /, `${name}: ${JSON.stringify(r.text)}`);
      assert.ok(r.closedAfterMs >= READ_TIMEOUT_MS - 50, `${name}: not before read_timeout (${r.closedAfterMs} ms)`);
      assert.ok(r.closedAfterMs < READ_TIMEOUT_MS + 1500, `${name}: cut off soon after read_timeout (${r.closedAfterMs} ms)`);
    }
  });

  test('200 concurrent scrapes and never-finishing clients: every scrape answered, the agent responsive', async () => {
    // clients that connect and never finish a request
    const stuck: net.Socket[] = [];
    for (let i = 0; i < 6; i++) {
      const s = net.connect(t.port!, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('connect', () => s.write(i % 2 ? 'GET /metrics HTTP/1.1\r\nHost: x\r\n' : 'GET /met'));
      stuck.push(s);
    }
    await sleep(50);
    const t0 = Date.now();
    const all = await Promise.all(
      Array.from({ length: 200 }, (_, i) => request(t, '/metrics', { headers: i % 2 ? { Accept: PROMETHEUS_ACCEPT } : {}, timeoutMs: 15_000 })),
    );
    const took = Date.now() - t0;
    assert.deepEqual([...new Set(all.map((r) => r.status))], [200], 'every scrape 200');
    for (const [i, r] of all.entries()) assert.match(r.body, i % 2 ? /# EOF\n$/ : /^sockscope_gathers_total \d+$/m);
    const health = await request(t, '/healthz', { timeoutMs: 2000 });
    assert.equal(health.status, 200);
    assert.ok(health.ms < 1000, `healthz in ${health.ms} ms with the stuck clients connected`);
    assert.ok(took < 10_000, `200 scrapes in ${took} ms`);
    assert.ok(stuck.some((s) => !s.destroyed) || Date.now() - t0 > READ_TIMEOUT_MS, 'the stuck clients were still there while we scraped');
    for (const s of stuck) s.destroy();
  });
});

describe('agent HTTP endpoint with an exporter-toolkit web config (TLS, basic auth, max_requests)', () => {
  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  const skip = openssl.status === 0 ? false : 'openssl (to make a test certificate) is not installed';
  let dir = '';
  let agent: AgentProcess | undefined;
  let t: Target;
  const auth = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

  before(async () => {
    if (skip) return;
    dir = tempDir('webcfg');
    selfSignedCert(dir, { cn: 'sockscope-test' });
    // htpasswd -B writes $2y$; exporter-toolkit takes it
    const hash = bcrypt.hashSync('correct horse', 10).replace(/^\$2b\$/, '$2y$');
    writeFileSync(
      join(dir, 'web.yml'),
      `# relative paths are relative to this file
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
  min_version: TLS12
basic_auth_users:
  prometheus: ${hash}
`,
    );
    agent = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '200ms', '--web-config', join(dir, 'web.yml')], {
      env: cleanEnv({ SOCKSCOPE_OUTPUTS_PROMETHEUS_MAX_REQUESTS: '2' }),
    });
    t = { ...targetOf(await agent.listening()), tls: { ca: readFileSync(join(dir, 'cert.pem')) } };
    await firstGather(t, auth('prometheus', 'correct horse'));
  });
  after(async () => {
    if (agent) assert.equal((await agent.stop()).code, 0, agent.tail());
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('TLS: the certificate from the web config; plain HTTP is not served', { skip }, async () => {
    const r = await request(t, '/metrics', { headers: auth('prometheus', 'correct horse') });
    assert.equal(r.status, 200);
    assert.match(r.body, /^sockscope_tcp_connections\{/m);
    await assert.rejects(request({ ...t, tls: undefined }, '/metrics', { timeoutMs: 3000 }), 'plain HTTP to the TLS port');
    await assert.rejects(
      request({ ...t, tls: {} }, '/metrics', { timeoutMs: 3000 }),
      /self[- ]signed|unable to verify|certificate/i,
      'an unknown CA is refused by the client',
    );
  });

  test('basic auth: 401 with WWW-Authenticate without or with wrong credentials, on every path', { skip }, async () => {
    for (const path of ['/metrics', '/healthz', '/api/snapshot', '/']) {
      const none = await request(t, path);
      assert.equal(none.status, 401, `${path} without credentials`);
      assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
      assert.ok(none.headers['content-type']);
    }
    for (const [u, p] of [
      ['prometheus', 'wrong'],
      ['nobody', 'correct horse'],
      ['prometheus', ''],
      ['', ''],
    ]) {
      assert.equal((await request(t, '/metrics', { headers: auth(u, p) })).status, 401, `${u}:${p}`);
    }
    for (const h of ['Bearer abc', 'Basic !!!notbase64', 'Basic ', 'basic cHJvbWV0aGV1czpjb3JyZWN0IGhvcnNl']) {
      assert.equal((await request(t, '/metrics', { headers: { Authorization: h } })).status, 401, h);
    }
    assert.equal((await request(t, '/healthz', { headers: auth('prometheus', 'correct horse') })).status, 200);
  });

  test('max_requests: requests beyond it in flight get 503 with Retry-After, and are counted', { skip }, async () => {
    // wrong passwords are never cached, so each holds its request in flight through a bcrypt comparison
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => request(t, '/metrics', { headers: auth('prometheus', `wrong-${i}`) })));
    const by = (s: number) => all.filter((r) => r.status === s);
    assert.equal(by(401).length + by(503).length, 30, `statuses: ${all.map((r) => r.status).join(',')}`);
    assert.ok(by(503).length > 0, 'some refused for the cap');
    assert.ok(by(401).length >= 2, 'up to the cap answered');
    for (const r of by(503)) assert.equal(r.headers['retry-after'], '1');
    const text = (await request(t, '/metrics', { headers: auth('prometheus', 'correct horse') })).body;
    assert.equal(sampleValue(text, 'sockscope_http_rejected_requests_total'), by(503).length);
  });
});

describe('agent HTTP endpoint with client certificates (client_auth_type)', () => {
  const skip = spawnSync('openssl', ['version']).status === 0 ? false : 'openssl (to make test certificates) is not installed';
  let dir = '';
  const agents: AgentProcess[] = [];
  const targets: Record<string, Target> = {};
  const pem = (name: string) => readFileSync(join(dir, name));
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  before(async () => {
    if (skip) return;
    dir = tempDir('mtls');
    selfSignedCert(dir, { key: 'server-key.pem', cert: 'server.pem', cn: 'server' });
    ssl('req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test-ca');
    ssl('req', ...ec, '-keyout', 'client-key.pem', '-out', 'client.csr', '-subj', '/CN=prometheus');
    ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'client.pem', '-days', '1');
    selfSignedCert(dir, { key: 'other-key.pem', cert: 'other.pem', cn: 'stranger', ipSan: false });
    for (const mode of ['RequireAndVerifyClientCert', 'RequireAnyClientCert']) {
      writeFileSync(
        join(dir, `${mode}.yml`),
        `tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  client_auth_type: ${mode}\n${mode === 'RequireAnyClientCert' ? '' : '  client_ca_file: ca.pem\n'}`,
      );
      agents.push(new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '1s', '--web-config', join(dir, `${mode}.yml`)]));
    }
    const addrs = await Promise.all(agents.map((a) => a.listening()));
    targets.verify = { ...targetOf(addrs[0]), tls: { ca: pem('server.pem') } };
    targets.any = { ...targetOf(addrs[1]), tls: { ca: pem('server.pem') } };
  });
  after(async () => {
    for (const a of agents) assert.equal((await a.stop()).code, 0, a.tail());
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const withCert = (t: Target, who: 'client' | 'other'): Target => ({ ...t, tls: { ...t.tls, cert: pem(`${who}.pem`), key: pem(`${who}-key.pem`) } });

  test('RequireAndVerifyClientCert: only a certificate signed by client_ca_file gets in', { skip }, async () => {
    assert.equal((await request(withCert(targets.verify, 'client'), '/healthz')).status, 200);
    await assert.rejects(request(targets.verify, '/healthz', { timeoutMs: 3000 }), 'no certificate');
    await assert.rejects(request(withCert(targets.verify, 'other'), '/healthz', { timeoutMs: 3000 }), 'a certificate of another CA');
  });

  test('RequireAnyClientCert: any certificate, but one is required', { skip }, async () => {
    assert.equal((await request(withCert(targets.any, 'client'), '/healthz')).status, 200);
    assert.equal((await request(withCert(targets.any, 'other'), '/healthz')).status, 200);
    await assert.rejects(request(targets.any, '/healthz', { timeoutMs: 3000 }), 'no certificate');
  });
});
