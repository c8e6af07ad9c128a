/**
 * Sockets bound to a device (SO_BINDTODEVICE: systemd-resolved's `127.0.0.53%lo:53`, DHCP clients): ss prints the
 * local address with `%<device>` before the port. The table's lines equal ss's, word for word, in a throwaway
 * namespace with a veth pair: run through `ip netns exec` (whose /sys is the namespace's own) and with -N from
 * outside (the names from rtnetlink in the namespace, as ss -N has them).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { until } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));
const root = process.getuid?.() === 0;
const tools = ['ip', 'ss', 'python3'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = !root ? 'needs root (ip netns add)' : !tools ? 'needs ip, ss and python3' : false;
const NS = `bdev-${process.pid}`;

/** a listing's lines as sorted word lists (alignment may differ from ss's, words may not) */
const words = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/).join(' '))
    .sort();

const inNs = (cmd: string[]) => spawnSync('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8', timeout: 60_000 });

const HOLDER = `
import socket, sys, time
def bound(s, dev, addr):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev); s.bind(addr); return s
keep = [
  bound(socket.socket(), b'bdevA', ('0.0.0.0', 6869)),
  bound(socket.socket(socket.AF_INET6), b'lo', ('::', 6870)),
  bound(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM), b'bdevA', ('::', 6871)),
  bound(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), b'lo', ('127.0.0.53', 53)),
  bound(socket.socket(), b'lo', ('127.0.0.1', 6872)),
]
s6 = socket.socket(socket.AF_INET6); s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); keep.append(bound(s6, b'lo', ('::', 6873)))
for s in keep:
    if s.type == socket.SOCK_STREAM: s.listen()
plain = socket.socket(); plain.bind(('0.0.0.0', 6874)); plain.listen()
print('ready', flush=True); time.sleep(120)
`;

describe('sockets bound to a device', { skip }, () => {
  let holder: ReturnType<typeof spawn> | undefined;
  before(async () => {
    spawnSync('ip', ['netns', 'add', NS]);
    for (const c of [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'add', 'bdevA', 'type', 'veth', 'peer', 'name', 'bdevB'],
      ['ip', 'link', 'set', 'bdevA', 'up'],
    ])
      assert.equal(inNs(c).status, 0, c.join(' '));
    holder = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout!.on('data', (d) => (out += d));
    await until('the holder is ready', () => out.includes('ready') || undefined, 30_000);
  });
  after(() => {
    holder?.kill('SIGKILL');
    spawnSync('ip', ['netns', 'delete', NS]);
  });

  test("ls -tuln prints ss's lines, `%device` included", () => {
    const theirs = inNs(['ss', '-tulnH']);
    const ours = inNs([process.execPath, BIN, 'ls', '-tulnH']);
    assert.equal(ours.status, 0, ours.stderr);
    const want = words(theirs.stdout);
    assert.ok(want.filter((l) => l.includes('%')).length >= 6, `ss shows the devices: ${theirs.stdout}`);
    assert.deepEqual(words(ours.stdout), want);
    // the records name the device too
    const recs = inNs([process.execPath, BIN, 'ls', '-tuln', '--format', 'ndjson'])
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { local_port: number; interface?: string });
    assert.equal(recs.find((r) => r.local_port === 6869)?.interface, 'bdevA');
    assert.equal(recs.find((r) => r.local_port === 6874)?.interface, undefined);
  });

  test("ls -N from outside names the namespace's own devices (rtnetlink there, not the caller's /sys)", () => {
    const theirs = inNs(['ss', '-tulnH']);
    const ours = spawnSync(process.execPath, [BIN, 'ls', '-N', NS, '-tulnH'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(ours.status, 0, ours.stderr);
    assert.deepEqual(words(ours.stdout), words(theirs.stdout));
  });

  test("a filter's `dev NAME` under -N is the namespace's device, as ss resolves it there", () => {
    // bdevA exists only in the namespace (its index there is not the caller's): from outside, -N resolves it inside
    for (const expr of [
      ['dev', 'bdevA'],
      ['dev', '!=', 'bdevA'],
      ['dev', 'lo'],
    ]) {
      const theirs = inNs(['ss', '-tulnH', ...expr]);
      assert.equal(theirs.status, 0, theirs.stderr);
      const ours = spawnSync(process.execPath, [BIN, 'ls', '-N', NS, '-tulnH', ...expr], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(ours.status, 0, `${expr.join(' ')}: ${ours.stderr}`);
      assert.ok(words(theirs.stdout).length > 0, `ss lists something for ${expr.join(' ')}`);
      assert.deepEqual(words(ours.stdout), words(theirs.stdout), expr.join(' '));
    }
    // a device the namespace does not have is refused, naming it (exit 2), though the caller may have one so named
    const lo = spawnSync(process.execPath, [BIN, 'ls', '-N', NS, '-tulnH', 'dev', 'bdevZ'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(lo.status, 2);
    assert.match(lo.stderr, /unknown device 'bdevZ'.*not a device of the namespace listed/);
  });
});
