/**
 * The exporter-toolkit web config's TLS keys with Go's semantics, checked from the outside with `openssl s_client`
 * against `sockscope agent` (127.0.0.1 of this namespace):
 *   - cipher_suites (Go's names; TLS 1.2 only, as in Go: TLS 1.3's suites are not configurable), curve_preferences,
 *     prefer_server_cipher_suites, min_version, max_version;
 *   - a bad certificate or key (a swapped pair, a key that does not match, garbage) exits 2 naming the file;
 *   - a client stalling in the TLS handshake is cut off after read_timeout, not later.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadWebConfig } from '../../src/agent/web-config.js';
import { AgentProcess, cleanEnv, runCli, selfSignedCert, targetOf, tempDir } from '../helpers/agent.js';

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
const skip = haveOpenssl ? false : 'openssl (certificates, s_client) is not installed';

/** `openssl s_client` to port with args: the negotiated protocol, cipher and group, or undefined when refused. */
function sClient(port: number, args: string[]): Promise<{ protocol?: string; cipher?: string; group?: string; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (out += c));
    p.stdin.end('');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.on('close', () => {
      clearTimeout(timer);
      const cipher = /Cipher is (\S+)/.exec(out)?.[1];
      resolve({
        out,
        protocol: /Protocol\s*:\s*(\S+)/.exec(out)?.[1] ?? /New, (TLSv[\d.]+),/.exec(out)?.[1],
        cipher: cipher && cipher !== '(NONE)' ? cipher : undefined,
        group: /(?:Server Temp Key|Negotiated TLS1\.3 group): (\S+?),?\s/.exec(out)?.[1],
      });
    });
  });
}

describe('web config: TLS keys with Go semantics (openssl s_client)', { skip }, () => {
  let dir = '';
  const agents: AgentProcess[] = [];
  /** an agent with this tls_server_config (cert and key added); its port */
  const start = async (extra: string, env: Record<string, string> = {}): Promise<{ port: number; agent: AgentProcess }> => {
    const file = join(dir, `web-${agents.length}.yml`);
    writeFileSync(file, `tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n${extra}`);
    const agent = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '1h', '--web-config', file], { env: cleanEnv(env) });
    agents.push(agent);
    return { port: targetOf(await agent.listening()).port!, agent };
  };

  before(() => {
    if (skip) return;
    dir = tempDir('tls');
    selfSignedCert(dir);
    selfSignedCert(dir, { key: 'other-key.pem', cert: 'other.pem', cn: 'other', ipSan: false });
  });
  after(async () => {
    for (const a of agents) assert.equal((await a.stop()).code, 0, a.tail());
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('cipher_suites (Go names) limit TLS 1.2; TLS 1.3 keeps its suites, as in Go', async () => {
    const { port } = await start('  cipher_suites:\n    - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\n    - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305\n');
    const ok = await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
    assert.equal(ok.cipher, 'ECDHE-ECDSA-AES256-GCM-SHA384', ok.out);
    const chacha = await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305']);
    assert.equal(chacha.cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305', chacha.out);
    const refused = await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
    assert.equal(refused.cipher, undefined, `a suite not in cipher_suites: ${refused.out}`);
    const tls13 = await sClient(port, ['-tls1_3']);
    assert.equal(tls13.protocol, 'TLSv1.3', tls13.out);
  });

  test("prefer_server_cipher_suites: the server's order wins when true, the client's when false", async () => {
    const suites = '  max_version: TLS12\n  cipher_suites:\n    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n    - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\n';
    const server = await start(`${suites}  prefer_server_cipher_suites: true\n`);
    const client = await start(`${suites}  prefer_server_cipher_suites: false\n`);
    const offer = ['-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256'];
    assert.equal((await sClient(server.port, offer)).cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    assert.equal((await sClient(client.port, offer)).cipher, 'ECDHE-ECDSA-AES256-GCM-SHA384');
  });

  test('curve_preferences (Go names): only those groups for the key exchange', async () => {
    const { port } = await start('  curve_preferences: [CurveP384, X25519]\n');
    for (const [groups, want] of [
      ['P-384', 'ECDH'],
      ['X25519', 'X25519'],
    ] as const) {
      const r = await sClient(port, ['-groups', groups]);
      assert.ok(r.cipher, `${groups}: ${r.out}`);
      assert.ok(r.group?.startsWith(want), `${groups}: negotiated ${r.group}`);
    }
    const refused = await sClient(port, ['-groups', 'P-256']);
    assert.equal(refused.cipher, undefined, `P-256 is not in curve_preferences: ${refused.out}`);
  });

  test('min_version and max_version', async () => {
    const only13 = await start('  min_version: TLS13\n');
    assert.equal((await sClient(only13.port, ['-tls1_2'])).cipher, undefined);
    assert.equal((await sClient(only13.port, ['-tls1_3'])).protocol, 'TLSv1.3');
    const only12 = await start('  min_version: TLS12\n  max_version: TLS12\n');
    assert.equal((await sClient(only12.port, ['-tls1_3'])).cipher, undefined);
    assert.equal((await sClient(only12.port, ['-tls1_2'])).protocol, 'TLSv1.2');
  });

  test('unknown names are refused naming the key and what is expected (exit 2)', () => {
    for (const [yaml, re] of [
      [
        '  cipher_suites: [TLS_FOO_WITH_BAR]\n',
        /tls_server_config\.cipher_suites\[0\] = "TLS_FOO_WITH_BAR".*expected one of .*TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/,
      ],
      ['  curve_preferences: [P256]\n', /tls_server_config\.curve_preferences\[0\] = "P256".*expected one of CurveP256, CurveP384, CurveP521, X25519/],
      ['  max_version: TLS14\n', /tls_server_config\.max_version = "TLS14".*expected one of TLS10, TLS11, TLS12, TLS13/],
      ['  min_version: TLS13\n  max_version: TLS12\n', /tls_server_config\.max_version = "TLS12".*min_version/],
      ['  prefer_server_cipher_suites: maybe\n', /prefer_server_cipher_suites = "maybe".*true or false/],
    ] as const) {
      const file = join(dir, 'bad.yml');
      writeFileSync(file, `tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n${yaml}`);
      assert.throws(
        () => loadWebConfig(file),
        (e: Error & { code?: string }) => e.code === 'ESOCKSCOPE_CONFIG' && re.test(e.message),
        yaml,
      );
    }
    // and through the CLI: one line, exit 2
    const r = runCli(['agent', '--listen', '127.0.0.1:0', '--web-config', join(dir, 'bad.yml')]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /prefer_server_cipher_suites = "maybe"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('a bad certificate or key exits 2 naming the file, never "internal error"', () => {
    writeFileSync(join(dir, 'garbage.pem'), 'not a pem\n');
    for (const [cert, key, re] of [
      ['key.pem', 'cert.pem', /cert_file = "key\.pem".*expected a PEM certificate.*swapped/],
      ['cert.pem', 'other-key.pem', /key_file = "other-key\.pem".*does not match.*cert\.pem/],
      ['garbage.pem', 'key.pem', /cert_file = "garbage\.pem".*expected a PEM certificate/],
      ['cert.pem', 'garbage.pem', /key_file = "garbage\.pem".*expected a PEM private key/],
    ] as const) {
      const file = join(dir, `pair-${cert}-${key}.yml`);
      writeFileSync(file, `tls_server_config:\n  cert_file: ${cert}\n  key_file: ${key}\n`);
      assert.throws(
        () => loadWebConfig(file),
        (e: Error & { code?: string }) => e.code === 'ESOCKSCOPE_CONFIG' && re.test(e.message) && !/PEM routines/.test(e.message),
        `${cert}/${key}`,
      );
    }
    // the swapped pair through the CLI: exit 2 (not 1, which systemd would restart every 5 s), one line naming the file
    const r = runCli(['agent', '--listen', '127.0.0.1:0', '--web-config', join(dir, 'pair-key.pem-cert.pem.yml')]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cert_file = "key\.pem".*swapped/);
    assert.doesNotMatch(r.stderr, /internal error|PEM routines/);
  });

  test('a client stalling in the TLS handshake is cut off after read_timeout', async () => {
    const readTimeoutMs = 2000;
    const { port } = await start('', { SOCKSCOPE_OUTPUTS_PROMETHEUS_READ_TIMEOUT: `${readTimeoutMs}ms` });
    const stall = (bytes: Buffer) =>
      new Promise<number>((resolve) => {
        const t0 = Date.now();
        const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
        s.on('error', () => undefined);
        s.on('close', () => resolve(Date.now() - t0));
        setTimeout(() => s.destroy(), 30_000);
      });
    // silent, and half a ClientHello
    const hello = readFileSync(join(dir, 'cert.pem')).subarray(0, 0);
    const [silent, half] = await Promise.all([stall(hello), stall(Buffer.from('16030100a5010000a10303', 'hex'))]);
    for (const [name, ms] of [
      ['silent', silent],
      ['half a ClientHello', half],
    ] as const) {
      assert.ok(ms >= readTimeoutMs - 100, `${name}: not before read_timeout (${ms} ms)`);
      assert.ok(ms < readTimeoutMs + 1000, `${name}: held ${ms} ms, read_timeout is ${readTimeoutMs} ms`);
    }
  });
});
