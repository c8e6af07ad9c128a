/**
 * A kept session's ESTABLISHED sockets handed out again (src/snapshot/established.ts EstablishedMemo), in a
 * throwaway namespace: a session kept from gather to gather, as the agent's walk keeps one per namespace, with the
 * namespace's Tcp ActiveOpens/PassiveOpens read before each gather. Step by step the holder opens a connection,
 * closes one, leaves a connect() hanging in SYN-SENT and drops it; after each step the next gather must dump
 * again (the counters moved, a count changed, or a socket could still become ESTABLISHED) and the one after,
 * with nothing changed, hands out the last dump's rows again. Every gather's points — netstat, netstat_port
 * (auto_listen_ports) and listen — must equal those of a fresh full dump taken right after it, and netstat's
 * counts `ss -tanH -4` / `-6`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netnsSupport } from '../helpers/netns.js';
import { ssNetstatCounts } from '../helpers/ss.js';

const support = netnsSupport();
const mod = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));

// the holder: listeners and connections in the test's namespace, changed on command (one line per step)
const PY = String.raw`
import socket, subprocess, sys
S = socket
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
subprocess.run(['ip', 'addr', 'add', '10.254.0.1/32', 'dev', 'lo'], check=True)
# an address nothing answers: a connect() there stays in SYN-SENT
subprocess.run(['ip', 'route', 'add', '10.255.0.0/24', 'dev', 'lo'], check=True)
keep = []
def listener(fam, addr):
    s = S.socket(fam, S.SOCK_STREAM); s.bind((addr, 0)); s.listen(64); keep.append(s); return s
def pair(l, host, fam):
    c = S.socket(fam, S.SOCK_STREAM); c.connect((host, l.getsockname()[1])); a, _ = l.accept(); return c, a
import time
for _ in range(50):
    try:
        l6 = listener(S.AF_INET6, '::1'); break
    except OSError: time.sleep(0.05)
l4 = listener(S.AF_INET, '127.0.0.1')
pairs = [pair(l4, '127.0.0.1', S.AF_INET) for _ in range(3)] + [pair(l6, '::1', S.AF_INET6) for _ in range(2)]
hanging = None
def settle():
    # a close's FINs are handled in softirq context, which a loaded machine defers to ksoftirqd: wait until no
    # socket is half-way (FIN-WAIT-1/2, CLOSE-WAIT, LAST-ACK, CLOSING), so each gather sees a still namespace
    for _ in range(500):
        rows = [l.split()[3] for f in ('/proc/net/tcp', '/proc/net/tcp6') for l in open(f).read().splitlines()[1:]]
        if not any(st in ('04', '05', '08', '09', '0B') for st in rows): return
        time.sleep(0.01)
print('ready', flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'open': pairs.append(pair(l4, '127.0.0.1', S.AF_INET))
    elif cmd == 'close':
        c, a = pairs.pop(0); a.close(); c.close()
        settle()
    elif cmd == 'hang':
        hanging = S.socket(S.AF_INET, S.SOCK_STREAM); hanging.setblocking(False)
        hanging.bind(('10.254.0.1', 0)); hanging.connect_ex(('10.255.0.9', 80))
    elif cmd == 'drop':
        hanging.close(); hanging = None
    print('done', flush=True)
`;

const SCRIPT = `
const { spawn, execFileSync } = await import('node:child_process');
const { createInterface } = await import('node:readline');
const { DiagSession, takeSnapshot } = await import(${mod('snapshot/snapshot.js')});
const { EstablishedMemo, establishedPremise } = await import(${mod('snapshot/established.js')});
const { tcpOpens } = await import(${mod('netns/counters.js')});
const { readProcText } = await import(${mod('procfs/read.js')});
const { gather } = await import(${mod('gather/gather.js')});
const { collectorDefaults, gatherConfigFromSections } = await import(${mod('collectors/registry.js')});
const py = spawn('python3', ['-c', ${JSON.stringify(PY)}], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
const reply = async () => { const l = await lines.next(); if (l.done) throw new Error('holder exited'); return l.value; };
await reply();
const step = async (cmd) => { py.stdin.write(cmd + '\\n'); await reply(); };
const config = { ...gatherConfigFromSections(collectorDefaults()), measurements: ['netstat', 'netstat_port', 'listen'] };
const session = await DiagSession.open();
session.memo = new EstablishedMemo();
const run = async (kept) => {
  const points = [];
  let snap;
  await gather(config, {
    snapshot: async (o) =>
      (snap = kept
        ? await takeSnapshot({ ...o, procRoot: '/proc/thread-self', tcpOpens: () => tcpOpens(readProcText('/proc/thread-self/net/snmp')) }, session)
        : await takeSnapshot({ ...o, established: 'all' })),
    census: () => { throw new Error('a table was expected'); },
  }, (m) => points.push({ name: m.schema.name, tags: m.tags, fields: m.fields }));
  return { points: points.map((p) => JSON.stringify(p)).sort(), again: snap.establishedAgain, notDumped: snap.establishedNotDumped };
};
// until the kernel's counters were checked against a dump of every state (established.ts), nothing is counted
for (let k = 0; k < 20 && establishedPremise() !== 'holds'; k++) await run(true);
const out = { premise: establishedPremise(), gathers: [] };
const gatherNow = async (label) => {
  const kept = await run(true);
  const full = await run(false);
  const ss4 = execFileSync('ss', ['-tanH', '-4'], { encoding: 'utf8' });
  const ss6 = execFileSync('ss', ['-tanH', '-6'], { encoding: 'utf8' });
  out.gathers.push({ label, kept, full, ss4, ss6 });
};
await gatherNow('first');
await gatherNow('still');
await step('open');
await gatherNow('opened');
await gatherNow('still after open');
await step('close');
await gatherNow('closed');
await gatherNow('still after close');
await step('hang');
await gatherNow('syn-sent');
await gatherNow('syn-sent still');
await step('drop');
await gatherNow('dropped');
await gatherNow('still after drop');
session.close();
py.kill();
console.log(JSON.stringify(out));
`;

interface Gathered {
  points: string[];
  again?: number;
  notDumped?: [number, number];
}

const netstat = (g: Gathered, v: string): Record<string, number> => {
  const p = g.points.map((x) => JSON.parse(x)).find((m) => m.name === 'netstat' && m.tags.ip_version === v);
  return Object.fromEntries(Object.entries((p?.fields ?? {}) as Record<string, number>).filter(([k, n]) => k.startsWith('tcp_') && n !== 0));
};

describe('ESTABLISHED sockets handed out again while the counters show none came or went', () => {
  it('a kept session dumps again after every change, hands out the last dump when nothing changed, and equals a full dump and ss', {
    skip: support.skip,
  }, () => {
    const cache = mkdtempSync(join(tmpdir(), 'established-memo-'));
    const r = spawnSync('unshare', [support.mode === 'user' ? '-rn' : '-n', process.execPath, '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, CACHE_DIRECTORY: cache },
    });
    rmSync(cache, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { premise: string; gathers: { label: string; kept: Gathered; full: Gathered; ss4: string; ss6: string }[] };
    assert.equal(out.premise, 'holds');
    const again = Object.fromEntries(out.gathers.map((g) => [g.label, g.kept.again]));
    // the server sides of the 3 + 2 connections (and of the one opened) are the ESTABLISHED sockets on listening ports
    assert.deepEqual(again, {
      first: undefined, // nothing kept yet
      still: 5,
      opened: undefined, // PassiveOpens and ActiveOpens moved
      'still after open': 6,
      closed: undefined, // fewer ESTABLISHED
      'still after close': 5,
      'syn-sent': undefined, // ActiveOpens moved
      'syn-sent still': undefined, // the SYN-SENT socket could have become ESTABLISHED since
      dropped: undefined, // the last gather held a SYN-SENT socket
      'still after drop': 5,
    });
    for (const g of out.gathers) {
      assert.deepEqual(g.kept.points, g.full.points, `${g.label}: the kept session's points = a full dump's`);
      assert.deepEqual(netstat(g.kept, '4'), ssNetstatCounts(g.ss4), `${g.label}: IPv4 counts = ss -tanH -4`);
      assert.deepEqual(netstat(g.kept, '6'), ssNetstatCounts(g.ss6), `${g.label}: IPv6 counts = ss -tanH -6`);
    }
    const ports = out.gathers[3].kept.points.map((x) => JSON.parse(x)).filter((m) => m.name === 'netstat_port');
    assert.deepEqual(ports.map((p) => p.fields.tcp_established).sort(), [2, 4], 'the listening ports ESTABLISHED counts, handed out again');
  });
});
