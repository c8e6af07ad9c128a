/**
 * socketstat's fast path against a real kernel, in a throwaway network namespace holding the known population
 * (test/helpers/population-holder.ts) plus two connections bound to `lo` (v4 and v6: the "%lo" tags):
 *  - SocketstatInfluxWriter equals collectSocketstat + influxLine over one real snapshot, for several option
 *    sets (test/helpers/socketstat-lines.ts runs inside the namespace);
 *  - `sockscope gather --measurement socketstat` (streamed) writes the lines the generic path writes (the same
 *    gather with listen added: one snapshot, collectSocketstat, InfluxWriter), as a set;
 *  - `sockscope execd --measurement socketstat` streams too: one set of lines per stdin newline, the same set.
 * The population is idle (but for its SYN-SENT socket's retransmissions), so separate runs see the same sockets
 * and counters.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { holdPython, netnsSupport, PopulationNetns } from '../../helpers/netns.js';
import type { SocketstatLines } from '../../helpers/socketstat-lines.js';
import { parseLine } from '../../helpers/metrics.js';

const support = netnsSupport();
const opts = { skip: support.skip ?? false };
const BIN = fileURLToPath(new URL('../../../../bin/sockscope.js', import.meta.url));
const LINES_SCRIPT = fileURLToPath(new URL('../../helpers/socketstat-lines.js', import.meta.url));

/** Two connections bound to lo (SO_BINDTODEVICE), IPv4 and IPv6, held until stdin closes. */
const BOUND_SCRIPT = `
import socket, sys
held = []
for fam, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    srv = socket.socket(fam); srv.bind((host, 0)); srv.listen(1)
    c = socket.socket(fam)
    c.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_BINDTODEVICE', 25), b'lo')
    c.connect(srv.getsockname()[:2])
    conn, _ = srv.accept()
    held += [srv, c, conn]
print('ready', flush=True)
sys.stdin.read()
`;

/**
 * A line without its time; the SYN-SENT socket's without its fields too: it retransmits its SYN between runs
 * (segs_out, retrans, cwnd move).
 */
const withoutTime = (line: string) => (line.includes('state="SYN-SENT"') ? `${line.slice(0, line.indexOf(' '))} (SYN-SENT)` : line.replace(/ \d+$/, ''));
const lineSet = (text: string) => text.split('\n').filter(Boolean).map(withoutTime).sort();

describe('socketstat streamed and written straight from the table, against the generic path, in a network namespace', () => {
  let ns: PopulationNetns | undefined;
  let stopBound: (() => Promise<void>) | undefined;
  const gather = (...args: string[]) => ns!.node(BIN, ['gather', ...args]);

  before(
    async () => {
      if (support.skip) return;
      ns = await PopulationNetns.start({ readyTimeoutMs: 20_000 });
      stopBound = (await holdPython(ns, BOUND_SCRIPT, 'the bound sockets')).stop;
    },
    { timeout: 60_000 },
  );

  after(async () => {
    await stopBound?.();
    await ns?.stop();
  });

  test('SocketstatInfluxWriter equals collectSocketstat + influxLine over a real snapshot, for every option set', opts, async () => {
    const sets = JSON.parse(await ns!.node(LINES_SCRIPT)) as SocketstatLines[];
    assert.ok(sets.length >= 5);
    for (const s of sets) {
      assert.ok(s.reference.length > 0, `${s.name}: points`);
      assert.deepEqual(s.direct.split('\n'), s.reference.split('\n'), s.name);
    }
    const all = sets.map((s) => s.reference).join('');
    for (const [what, re] of [
      ['IPv4', /local_addr=127\.0\.0\.1,/],
      ['IPv6', /local_addr=\[::1\],/],
      ['bound to lo, v4', /local_addr=127\.0\.0\.1%lo,/],
      ['bound to lo, v6', /local_addr=\[::1\]%lo,/],
      ['udp', /proto=udp/],
      ['tcp_info', /bytes_received=[1-9]\d*i/],
      ['every field', /notsent_bytes=\d+u/],
      ['listeners (every state)', /state="LISTEN"/],
      ['tags', /dc=eu\\ west/],
    ] as [string, RegExp][]) {
      assert.match(all, re, what);
    }
  });

  for (const args of [
    [],
    ['--socketstat-info', 'all', '--influx-uint'],
    ['--socketstat-protocols', 'tcp,udp,raw', '--socketstat-info', 'rtt_us,cwnd', '--tag', 'dc=eu west', '--tag', 'proto=x', '--host-tag', 'h1'],
  ]) {
    test(`gather --measurement socketstat ${args.join(' ')}: the generic path's lines (streamed)`, opts, async () => {
      const streamed = await gather('--measurement', 'socketstat', ...args);
      const generic = (await gather('--measurement', 'socketstat,listen', ...args))
        .split('\n')
        .filter((l) => l.startsWith('socketstat,'))
        .join('\n');
      const want = lineSet(generic);
      assert.ok(want.length > 10, 'socketstat points');
      assert.ok(
        want.some((l) => l.includes('%lo')),
        'bound sockets among them',
      );
      assert.deepEqual(lineSet(streamed), want);
      for (const l of streamed.split('\n').filter(Boolean)) parseLine(l);
    });
  }

  test("execd --measurement socketstat: one streamed gather per newline, each the generic path's lines", opts, async () => {
    const args = ['--socketstat-info', 'all', '--tag', 'dc=eu west'];
    const want = lineSet(
      (await gather('--measurement', 'socketstat,listen', ...args))
        .split('\n')
        .filter((l) => l.startsWith('socketstat,'))
        .join('\n'),
    );
    const child = spawn('nsenter', [...ns!.enterArgs(), '--', process.execPath, BIN, 'execd', '--measurement', 'socketstat', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdin.end('\n\n');
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^I! sockscope execd: socketstat/);
    const byTime = new Map<string, string[]>();
    for (const l of stdout.split('\n').filter(Boolean)) {
      parseLine(l);
      const time = l.slice(l.lastIndexOf(' ') + 1);
      byTime.set(time, [...(byTime.get(time) ?? []), withoutTime(l)]);
    }
    assert.equal(byTime.size, 2, 'two gathers, each with its own time');
    for (const lines of byTime.values()) assert.deepEqual(lines.sort(), want);
  });
});
