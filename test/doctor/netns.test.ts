/**
 * `sockscope doctor --all-netns` (here through `--netns A --netns B`, which implies it): two `ip netns`
 * namespaces diagnosed in one run, one with a CLOSE_WAIT leak, the other busy but healthy. Only the leaking one
 * gets a warning, its subject naming that namespace (its inode and its `ip netns` name) and the process; the
 * healthy one, read in the same window, gets none. The namespaces are discovered, identified and entered by
 * src/netns, as `ls --all-netns` does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { atLeastWarning, BUSY_HEALTHY, doctor, LEAKY_SERVER, scenarioSkip, startScenario, type DoctorRun, type Scenario } from '../helpers/doctor-scenario.js';

const NAMES = ['doctor2-leak', 'doctor2-busy'];
const skip = scenarioSkip();
const show = (r: DoctorRun) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });

describe('sockscope doctor --all-netns', { skip: skip ?? false }, () => {
  const scenarios: Scenario[] = [];
  before(() => {
    for (const n of NAMES) {
      ip('netns', 'del', n);
      const r = ip('netns', 'add', n);
      assert.equal(r.status, 0, r.stderr);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
  });
  after(async () => {
    for (const s of scenarios) await s.stop();
    for (const n of NAMES) ip('netns', 'del', n);
  });

  test('a leak in one namespace, busy healthy traffic in another: the warning is in the leaking namespace, naming it; none in the busy one', async () => {
    const leak = await startScenario(
      String.raw`
${LEAKY_SERVER}for _ in range(12):
    socket.create_connection(('127.0.0.1', 7001)).close()
while len(kept) < 12:
    time.sleep(0.01)
time.sleep(0.3)
ready()
`,
      { netns: NAMES[0] },
    );
    scenarios.push(leak);
    // the same server in the busy namespace too: the leak is the namespace's, not the program's name or port
    scenarios.push(await startScenario(BUSY_HEALTHY, { netns: NAMES[1] }));
    // an `ip netns` name is a bind mount of the namespace file: its inode is the namespace's
    const inode = (n: string) => `net:[${statSync(`/run/netns/${n}`).ino}]`;
    const [leakNs, busyNs] = NAMES.map(inode);

    const r = await doctor(['--netns', NAMES[0], '--netns', NAMES[1], '--window', '2s', '--format', 'json']);
    assert.ok(r.report, show(r));
    const report = r.report as NonNullable<DoctorRun['report']> & { namespaces: { netns: string; netns_name?: string; sockets: number }[] };
    // both namespaces read (and sockscope's own, always first)
    for (const [k, n] of NAMES.entries()) {
      const row = report.namespaces.find((x) => x.netns_name === n);
      assert.ok(row, `${n} diagnosed: ${show(r)}`);
      assert.equal(row.netns, [leakNs, busyNs][k]);
    }
    assert.ok(report.namespaces.find((x) => x.netns_name === NAMES[1])!.sockets > 10, 'the busy namespace is busy');
    const inLeak = report.findings.filter((f) => f.subject.netns === leakNs);
    const cw = inLeak.find((f) => f.check === 'close_wait');
    assert.ok(cw, show(r));
    assert.equal(cw.severity, 'warning');
    assert.equal(cw.evidence.value, 12);
    assert.deepEqual(cw.subject, { process: { pid: leak.info.pid, comm: 'leakysrv' }, netns: leakNs, netns_name: NAMES[0] });
    // busy but healthy: nothing at warning or above (an echo server's side of a connection its client has just
    // closed is CLOSE_WAIT for a moment: at most an info-level observation)
    assert.deepEqual(
      report.findings.filter((f) => f.subject.netns === busyNs && atLeastWarning(f)),
      [],
      `no warning in the busy, healthy namespace: ${show(r)}`,
    );
    assert.equal(r.code, 1, 'a warning: exit 1');

    // the text names the namespace too
    const text = await doctor(['--netns', NAMES[0], '--window', '1s', '--check', 'close_wait']);
    assert.match(
      text.stdout,
      new RegExp(`WARNING +close_wait: process leakysrv \\(pid ${leak.info.pid}\\), netns ${leakNs.replace(/[[\]]/g, '\\$&')} \\(${NAMES[0]}\\)`),
      show(text),
    );
  });

  test('-N with --all-netns is a usage error (exit 2)', async () => {
    const r = await doctor(['-N', '1', '--all-netns']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /-N reads one namespace, --all-netns every one/);
  });
});
