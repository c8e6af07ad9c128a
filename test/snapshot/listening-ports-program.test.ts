/**
 * The listening ports' filter program (src/snapshot/established.ts localPortsBytecode, a balanced search) run by
 * the kernel: in a throwaway namespace, listeners on a set of ports and on the ports just beside them (p - 1,
 * p + 1: off the set), ESTABLISHED connections to each (IPv4, IPv6, v4-mapped) plus their client sides
 * (ephemeral ports), then an ESTABLISHED dump through the program for several port sets (one port, an even and an
 * odd count, the lowest and highest port of the namespace) compared with `ss -tnH state established '( sport = :p
 * or ... )'` in the same namespace: the same local/peer address pairs. A program the kernel refused would be
 * dropped and every ESTABLISHED socket dumped: the client sides and the neighbours' sockets would show.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netnsSupport } from '../helpers/netns.js';

const support = netnsSupport();
const mod = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));

const PY = String.raw`
import socket, subprocess, sys, time
S = socket
keep = []
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
time.sleep(0.3)  # IPv6 ::1 ready
base = 20000
def listener(fam, addr, port, v6only=None):
    s = S.socket(fam, S.SOCK_STREAM)
    if v6only is not None: s.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, v6only)
    s.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(64); keep.append(s); return s
def pair(l, host, fam):
    c = S.socket(fam, S.SOCK_STREAM)
    c.connect((host, l.getsockname()[1])); a, _ = l.accept(); keep.extend([c, a])
# every port from base to base + 12: the sets pick some, the others are their neighbours
for k in range(13):
    p = base + k
    if k % 3 == 0:
        l = listener(S.AF_INET6, '::', p, 0)
        pair(l, '127.0.0.1', S.AF_INET); pair(l, '::1', S.AF_INET6)
    elif k % 3 == 1:
        pair(listener(S.AF_INET, '127.0.0.1', p), '127.0.0.1', S.AF_INET)
    else:
        pair(listener(S.AF_INET6, '::1', p, 1), '::1', S.AF_INET6)
print('ready', flush=True)
sys.stdin.read()
`;

const SETS = [[20000], [20003, 20007], [20001, 20004, 20006, 20008, 20012], [20000, 20002, 20005, 20009, 20010, 20011], [20012]];

const SCRIPT = `
const { spawn, execFileSync } = await import('node:child_process');
const { takeSnapshot } = await import(${mod('snapshot/snapshot.js')});
const { localPortsBytecode } = await import(${mod('snapshot/established.js')});
const py = spawn('python3', ['-c', ${JSON.stringify(PY)}], { stdio: ['pipe', 'pipe', 'inherit'] });
await new Promise((ok, fail) => { py.stdout.on('data', (d) => String(d).includes('ready') && ok()); py.on('exit', (c) => fail(new Error('holder exited ' + c))); });
const rows = (t) => {
  const out = [];
  for (let i = 0; i < t.length; i++) out.push(t.sport[i] + ' ' + t.dport[i] + ' ' + t.family[i]);
  return out.sort();
};
const ssRows = (text) => text.split('\\n').filter(Boolean).map((l) => {
  const [, , local, peer] = l.trim().split(/\\s+/);
  const port = (a) => Number(a.slice(a.lastIndexOf(':') + 1));
  return port(local) + ' ' + port(peer) + ' ' + (local.startsWith('[') ? 10 : 2);
}).sort();
const results = [];
const all = await takeSnapshot({ protocols: ['tcp'], states: 1 << 1 });
for (const set of ${JSON.stringify(SETS)}) {
  const snap = await takeSnapshot({ protocols: ['tcp'], states: 1 << 1, bytecode: localPortsBytecode(set) });
  const ss = execFileSync('ss', ['-tnH', 'state', 'established', '( ' + set.map((p) => 'sport = :' + p).join(' or ') + ' )'], { encoding: 'utf8' });
  results.push({ set, got: rows(snap.table), ss: ssRows(ss), notes: snap.notes });
}
py.kill();
console.log(JSON.stringify({ all: all.table.length, results }));
`;

describe('the listening ports program in the kernel', () => {
  it('an ESTABLISHED dump through it lists what ss lists for "sport = :p or ...", for sets of 1 to 6 ports', { skip: support.skip }, () => {
    const r = spawnSync('unshare', [support.mode === 'user' ? '-rn' : '-n', process.execPath, '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { all: number; results: { set: number[]; got: string[]; ss: string[]; notes: string[] }[] };
    // 13 ports: 5 dual-stack listeners with two connections, 8 single-family ones with one; both ends of each
    assert.equal(out.all, 2 * (5 * 2 + 8));
    for (const { set, got, ss, notes } of out.results) {
      assert.deepEqual(notes, [], `${set}: no note (the kernel took the program)`);
      assert.ok(ss.length > 0 && ss.length < out.all, `${set}: ss lists some: ${ss.length}`);
      assert.deepEqual(got, ss, `ports ${set}: the dump through the program = ss`);
      assert.ok(
        got.every((row) => set.includes(Number(row.split(' ')[0]))),
        `${set}: only the set's local ports`,
      );
    }
  });
});
