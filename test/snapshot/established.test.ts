/**
 * The reduced request plan (src/snapshot/established.ts) against the full dump and against ss, in a throwaway
 * namespace holding a TCP socket in every state ss can show: LISTEN, ESTABLISHED (IPv4, IPv6 and v4-mapped, on
 * listening ports and outgoing), SYN-SENT (to an address nothing answers), SYN-RECV (request sockets: a listener
 * whose SYN-ACKs go nowhere), FIN-WAIT-1 (orphaned: close() after the peer's address went away), FIN-WAIT-2 (a
 * half-closed socket, and orphans the kernel keeps as timewait minisockets), TIME-WAIT, CLOSE-WAIT and LAST-ACK.
 * The default collectors (netstat, netstat_port with auto_listen_ports, listen) gathered with every ESTABLISHED
 * socket dumped, with the first reduced gather (which checks the kernel's counters against a dump of every
 * state) and the second (which counts what it does not dump) must write the same points, and netstat's counts
 * per state and family must equal `ss -tanH -4` / `-6` counted; the census (netstat alone) too. The verdict on
 * the counters is kept in the cache directory for the next process of the same boot.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netnsSupport } from '../helpers/netns.js';
import { NETSTAT_FIELD_OF_SS_STATE, ssNetstatCounts } from '../helpers/ss.js';

const support = netnsSupport();
const mod = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));

// the sockets, made by python3 (IP_TRANSPARENT, shutdown, address removal mid-way) in the test's namespace
const PY = String.raw`
import socket, struct, subprocess, sys, time
S = socket
keep = []
def sh(*a): subprocess.run(a, check=True)
sh('ip', 'link', 'set', 'lo', 'up')
sh('ip', 'addr', 'add', '10.254.0.1/32', 'dev', 'lo')
sh('ip', 'addr', 'add', '10.254.0.2/32', 'dev', 'lo')
# addresses nothing answers: packets go out lo and are dropped there (not local, no forwarding)
sh('ip', 'route', 'add', '10.255.0.0/24', 'dev', 'lo')
sh('ip', '-6', 'route', 'add', 'fd00:255::/64', 'dev', 'lo')
sh('ip', '-6', 'addr', 'add', 'fd00:254::1/128', 'dev', 'lo', 'nodad')
time.sleep(0.3)  # IPv6 ::1 ready
def listener(fam, addr, v6only=None):
    s = S.socket(fam, S.SOCK_STREAM)
    if v6only is not None: s.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, v6only)
    s.bind((addr, 0)); s.listen(64); keep.append(s); return s
def pair(l, host, fam, src=None):
    c = S.socket(fam, S.SOCK_STREAM)
    if src: c.bind((src, 0))
    c.connect((host, l.getsockname()[1])); a, _ = l.accept(); keep.extend([c, a]); return c, a
l4 = listener(S.AF_INET, '127.0.0.1')
l6 = listener(S.AF_INET6, '::1', 1)
dual = listener(S.AF_INET6, '::', 0)
far = listener(S.AF_INET, '10.254.0.1')
for _ in range(3): pair(l4, '127.0.0.1', S.AF_INET)
for _ in range(2): pair(l6, '::1', S.AF_INET6)
for _ in range(2): pair(dual, '127.0.0.1', S.AF_INET)   # v4-mapped server sides
pair(dual, '::1', S.AF_INET6)
# CLOSE-WAIT / FIN-WAIT-2 (both ends full sockets)
for l, h, f in ((l4, '127.0.0.1', S.AF_INET), (l6, '::1', S.AF_INET6), (dual, '127.0.0.1', S.AF_INET)):
    c, a = pair(l, h, f); c.shutdown(S.SHUT_WR)
# FIN-WAIT-2 orphans (timewait minisockets), the server side CLOSE-WAIT
for l, h, f in ((l4, '127.0.0.1', S.AF_INET), (l6, '::1', S.AF_INET6)):
    c, a = pair(l, h, f); keep.remove(c); c.close()
# TIME-WAIT
for l, h, f in ((l4, '127.0.0.1', S.AF_INET), (l6, '::1', S.AF_INET6), (dual, '127.0.0.1', S.AF_INET)):
    c, a = pair(l, h, f); keep.remove(c); keep.remove(a); c.close(); time.sleep(0.05); a.close()
# SYN-SENT, both families (from addresses of ours, to ones nothing answers)
for fam, src, addr in ((S.AF_INET, '10.254.0.1', ('10.255.0.9', 80)), (S.AF_INET6, 'fd00:254::1', ('fd00:255::9', 80))):
    s = S.socket(fam, S.SOCK_STREAM); s.bind((src, 0)); s.setblocking(False)
    err = s.connect_ex(addr)
    if err != 115: raise SystemExit('connect to %s: errno %d' % (addr, err))
    keep.append(s)
# LAST-ACK and an orphaned FIN-WAIT-1: the peer's address goes away before our FIN
lc, la = pair(far, '10.254.0.1', S.AF_INET, '10.254.0.2'); lc.shutdown(S.SHUT_WR)
fc, fa = pair(far, '10.254.0.1', S.AF_INET, '10.254.0.2')
time.sleep(0.2)
sh('ip', 'addr', 'del', '10.254.0.2/32', 'dev', 'lo')
keep.remove(la); la.close()
keep.remove(fa); fa.close()
# SYN-RECV: request sockets of a listener, from SYNs (a raw socket's) whose SYN-ACKs go nowhere
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16; return ~s & 0xffff
def syn(src, dst, sport, dport):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, 12345, 0, 5 << 4, 0x02, 65535, 0, 0)
    c = csum(S.inet_aton(src) + S.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack('!H', c) + tcp[18:]
    return struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, S.inet_aton(src), S.inet_aton(dst)) + tcp
raw = S.socket(S.AF_INET, S.SOCK_RAW, S.IPPROTO_RAW)
for k in range(2): raw.sendto(syn('10.255.0.7', '10.254.0.1', 40001 + k, far.getsockname()[1]), ('10.254.0.1', 0))
time.sleep(0.5)
print('ready', flush=True)
sys.stdin.read()
`;

// in the namespace: the holder, then the gathers, then ss
const SCRIPT = `
const { spawn, execFileSync } = await import('node:child_process');
const { takeSnapshot, takeCensus } = await import(${mod('snapshot/snapshot.js')});
const { establishedPremise } = await import(${mod('snapshot/established.js')});
const { gather } = await import(${mod('gather/gather.js')});
const { collectorDefaults, gatherConfigFromSections } = await import(${mod('collectors/registry.js')});
const py = spawn('python3', ['-c', ${JSON.stringify(PY)}], { stdio: ['pipe', 'pipe', 'inherit'] });
await new Promise((ok, fail) => { py.stdout.on('data', (d) => String(d).includes('ready') && ok()); py.on('exit', (c) => fail(new Error('holder exited ' + c))); });
const sections = collectorDefaults();
const run = async (measurements, established) => {
  const config = { ...gatherConfigFromSections(sections), measurements };
  const metrics = [];
  let snap;
  await gather(config, {
    snapshot: async (o) => (snap = await takeSnapshot(established ? { ...o, established } : o)),
    census: (o) => takeCensus(established ? { ...o, established } : o),
  }, (m) => metrics.push({ name: m.schema.name, tags: m.tags, fields: m.fields }));
  return { metrics, notDumped: snap?.establishedNotDumped, options: undefined };
};
const DEFAULT = ['netstat', 'netstat_port', 'listen'];
const full = await run(DEFAULT, 'all');
const premiseBefore = establishedPremise();
// the first reduced gather checks the counters against its full dump; a moment they moved decides nothing (a
// loaded machine: the holder's last transitions), the next one checks again
let first = await run(DEFAULT);
for (let k = 0; k < 5 && establishedPremise() === 'unknown'; k++) first = await run(DEFAULT);
const premiseAfter = establishedPremise();
const second = await run(DEFAULT);
const censusFull = await run(['netstat'], 'all');
const census = await run(['netstat']);
const ss4 = execFileSync('ss', ['-tanH', '-4'], { encoding: 'utf8' });
const ss6 = execFileSync('ss', ['-tanH', '-6'], { encoding: 'utf8' });
py.kill();
console.log(JSON.stringify({ full, first, second, censusFull, census, premiseBefore, premiseAfter, ss4, ss6 }));
`;

interface Point {
  name: string;
  tags: Record<string, string>;
  fields: Record<string, number>;
}

const tcpCounts = (p: Point | undefined): Record<string, number> =>
  Object.fromEntries(Object.entries(p?.fields ?? {}).filter(([k, v]) => k.startsWith('tcp_') && v !== 0));
const netstatOf = (ms: Point[], v: string) => ms.find((m) => m.name === 'netstat' && m.tags.ip_version === v);
const sorted = (ms: Point[]) => ms.map((m) => JSON.stringify(m)).sort();

describe('ESTABLISHED counted, not dumped (SnapshotOptions.established)', () => {
  it('the default collectors write what the full dump gives, and netstat counts what ss lists, per state and family', { skip: support.skip }, () => {
    // a cache directory of the test's own: the verdict on the counters is kept there for the boot
    const cache = mkdtempSync(join(tmpdir(), 'nsless-established-'));
    const env = { ...process.env, CACHE_DIRECTORY: cache };
    const r = spawnSync('unshare', [support.mode === 'user' ? '-rn' : '-n', process.execPath, '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8',
      timeout: 60_000,
      env,
    });
    // the next process starts from the kept verdict (same boot, same kernel): no full dump to check again
    const next = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import(${mod('snapshot/established.js')}); console.log(m.establishedPremise());`],
      {
        encoding: 'utf8',
        env,
      },
    );
    const other = mkdtempSync(join(tmpdir(), 'nsless-established-'));
    const fresh = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import(${mod('snapshot/established.js')}); console.log(m.establishedPremise());`],
      {
        encoding: 'utf8',
        env: { ...process.env, CACHE_DIRECTORY: other },
      },
    );
    for (const d of [cache, other]) rmSync(d, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(next.stdout.trim(), 'holds', next.stderr);
    assert.equal(fresh.stdout.trim(), 'unknown', fresh.stderr);
    const out = JSON.parse(r.stdout);
    const ss4 = ssNetstatCounts(out.ss4);
    const ss6 = ssNetstatCounts(out.ss6);
    // the namespace holds what it should: every state, v4-mapped sockets among the IPv6 ones
    // every state but CLOSE (never hashed) and CLOSING (simultaneous close)
    for (const f of Object.values(NETSTAT_FIELD_OF_SS_STATE).filter((f) => f !== 'tcp_close' && f !== 'tcp_closing'))
      assert.ok(ss4[f] > 0, `ss -4 lists ${f}: ${out.ss4}`);
    for (const f of ['tcp_listen', 'tcp_established', 'tcp_syn_sent', 'tcp_fin_wait2', 'tcp_time_wait', 'tcp_close_wait'])
      assert.ok(ss6[f] > 0, `ss -6 lists ${f}`);
    assert.match(out.ss6, /::ffff:127\.0\.0\.1/);

    // the first reduced gather checked the counters against its dump of every state; the second used them
    assert.equal(out.premiseBefore, 'unknown');
    assert.equal(out.premiseAfter, 'holds');
    assert.equal(out.full.notDumped, undefined);
    assert.equal(out.first.notDumped, undefined, 'the checking gather dumps every ESTABLISHED socket');
    // the client sides of the connections to listeners (outgoing, ephemeral local ports) were counted, not dumped
    assert.ok(out.second.notDumped[0] >= 3 + 1 + 2, `IPv4 ESTABLISHED not dumped: ${out.second.notDumped}`);
    assert.ok(out.second.notDumped[1] >= 3, `IPv6 ESTABLISHED not dumped: ${out.second.notDumped}`);

    for (const [name, run] of [
      ['first', out.first],
      ['second', out.second],
    ])
      assert.deepEqual(sorted(run.metrics), sorted(out.full.metrics), `${name} reduced gather = the full dump's`);
    assert.deepEqual(sorted(out.census.metrics), sorted(out.censusFull.metrics), 'census: counted = dumped');
    for (const run of [out.full, out.second, out.census]) {
      assert.deepEqual(tcpCounts(netstatOf(run.metrics, '4')), ss4, 'IPv4 counts = ss -tanH -4');
      assert.deepEqual(tcpCounts(netstatOf(run.metrics, '6')), ss6, 'IPv6 counts = ss -tanH -6');
    }
    // netstat_port: the listening ports' ESTABLISHED sockets are there (they were dumped through the filter)
    const ports = (out.second.metrics as Point[]).filter((m) => m.name === 'netstat_port');
    assert.ok(ports.length >= 4);
    assert.ok(ports.every((p) => p.fields.tcp_listen >= 1));
    assert.ok(ports.some((p) => p.fields.tcp_established >= 3));
  });
});
