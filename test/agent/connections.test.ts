/**
 * Connection limits of the HTTP endpoint (`sockscope agent` as a child process with its fd limit at 1,024):
 * 1,100 idle connections held open (and re-opened when closed, as a careless or hostile client does) must not lock
 * scrapers out: max_connections keeps the agent below its fd limit and closes the oldest idle connection to make
 * room for a new one, so every scrape is answered. Also: idle connections are counted as closed for room
 * (sockscope_http_connections_closed_total{reason="room"}).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { AgentProcess, Daemon, request, sampleValue, targetOf } from '../helpers/agent.js';
import { sleep, until } from '../helpers/wait.js';

/** A child (fd limit raised) holding `n` idle connections to port, re-opening any the server closes. */
const HOLDER = `
const net = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
let open = 0, reopened = 0;
function hold(first) {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { open++; });
  s.on('error', () => undefined);
  s.on('close', (hadError) => { open--; if (!stopping) { reopened++; setTimeout(() => hold(false), 20); } });
}
let stopping = false;
(async () => {
  for (let i = 0; i < n; i++) { hold(true); if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20)); }
  setInterval(() => process.stdout.write(JSON.stringify({ open, reopened }) + '\\n'), 200);
})();
process.on('SIGTERM', () => { stopping = true; process.exit(0); });
`;

describe('HTTP endpoint: connections beyond the fd limit', () => {
  const prlimit = spawnSync('prlimit', ['--version']).status === 0;
  test('fd limit 1,024, 1,100 idle connections held: every scrape answered', { skip: prlimit ? false : 'prlimit (util-linux) is missing' }, async () => {
    const agent = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '500ms'], { wrap: ['prlimit', '--nofile=1024:1024', '--'] });
    let holder: Daemon | undefined;
    try {
      const t = targetOf(await agent.listening());
      holder = new Daemon('idle connections', 'prlimit', ['--nofile=4096:4096', '--', process.execPath, '-e', HOLDER, String(t.port), '1100']);
      const state = () => {
        const lines = holder!.stdout.trim().split('\n');
        return lines.length && lines[lines.length - 1] ? (JSON.parse(lines[lines.length - 1]) as { open: number; reopened: number }) : undefined;
      };
      // the connections are in (the kernel completes them whether the agent accepts them or not)
      await until('1,100 connections made', () => ((state()?.open ?? 0) + (state()?.reopened ?? 0) >= 1100 ? true : undefined), 20_000, 100);
      await sleep(500);
      const statuses: (number | string)[] = [];
      for (let i = 0; i < 10; i++) {
        statuses.push(
          await request(t, '/metrics', { timeoutMs: 3000 }).then(
            (r) => r.status,
            (e: Error) => e.message,
          ),
        );
        await sleep(200);
      }
      assert.deepEqual(statuses, Array(10).fill(200), `every scrape answered while 1,100 idle connections are held (${JSON.stringify(state())})`);
      const text = (await request(t, '/metrics', { timeoutMs: 3000 })).body;
      assert.ok(sampleValue(text, 'sockscope_http_connections_closed_total', { reason: 'room' })! > 0, 'idle connections were closed to make room');
      assert.ok(sampleValue(text, 'sockscope_http_connections') !== undefined, 'open connections are a self-metric');
      assert.ok(sampleValue(text, 'sockscope_http_connections')! <= sampleValue(text, 'sockscope_http_max_connections')!, 'within max_connections');
    } finally {
      await holder?.stop('SIGKILL');
      assert.equal((await agent.stop()).code, 0, agent.tail());
    }
  });
});
