/**
 * `node dist/bench/established-program.js [--sockets 1500] [--listen 30] [--reps 400]`
 *
 * The kernel's time for the listening ports' ESTABLISHED dump (src/snapshot/established.ts), per filter program:
 * in one namespace of bench/netns-holder.py (the agent case's: `listen` listeners, the connections to the first
 * of them, both ends), over one kept NETLINK_SOCK_DIAG socket, the ESTABLISHED dump through the balanced
 * S_GE/S_LE search (localPortsBytecode), through the chain src/filter compiles for "sport = :p1 or sport = :p2
 * ..." (S_COND ops, a JMP between each: what it was before), and without a program (every ESTABLISHED socket),
 * alternated rep by rep; each dump's user and system CPU (process.cpuUsage), medians. Checks the two programs
 * return the same sockets. Needs root. Not part of `npm test`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TCP_ESTABLISHED, TCP_LISTEN } from '../src/diag/constants.js';
import type { FilterNode } from '../src/filter/ast.js';
import { compileBytecode } from '../src/filter/bytecode.js';
import { localPortsBytecode } from '../src/snapshot/established.js';
import { DiagSession } from '../src/snapshot/session.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';

const { values: a } = parseArgs({
  options: {
    sockets: { type: 'string', default: '1500' },
    listen: { type: 'string', default: '30' },
    reps: { type: 'string', default: '400' },
    child: { type: 'boolean', default: false },
  },
});

if (!a.child) {
  if (process.getuid?.() !== 0) {
    console.log('bench/established-program: needs root; skipped');
    process.exit(0);
  }
  const per = Number(a.sockets);
  const listen = Number(a.listen);
  const closewait = Math.round(per * 0.025);
  const estab = Math.floor((per - listen - 2 * closewait) / 2);
  const holder = spawn(
    'python3',
    [
      fileURLToPath(new URL('../../bench/netns-holder.py', import.meta.url)),
      '--listen',
      `${listen}`,
      '--estab',
      `${estab}`,
      '--closewait',
      `${closewait}`,
      '--private-ehash',
      '4096',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await createInterface({ input: holder.stdout! })[Symbol.asyncIterator]().next();
  const r = spawnSync('nsenter', [`--net=/proc/${holder.pid}/ns/net`, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child'], {
    stdio: 'inherit',
  });
  holder.kill();
  process.exit(r.status ?? 1);
}

const s = await DiagSession.open();
const listening = await takeSnapshot({ protocols: ['tcp'], states: 1 << TCP_LISTEN }, s);
const ports = [...new Set(Array.from({ length: listening.table.length }, (_, i) => listening.table.sport[i]))].sort((x, y) => x - y);
// the chain "sport = :p1 or sport = :p2 ..." as src/filter compiles it (the program before the balanced search)
const span = { start: 0, end: 0 };
const leaf = (port: number): FilterNode => ({ kind: 'port', side: 'src', op: '=', port, text: String(port), ...span });
let node = leaf(ports[0]);
for (let k = 1; k < ports.length; k++) node = { kind: 'or', left: node, right: leaf(ports[k]), ...span };
const programs: Record<string, Uint8Array | undefined> = {
  search: localPortsBytecode(ports),
  chain: compileBytecode(node, { netAdmin: false, ifindex: () => 0, cgroupId: () => 0n }).bytecode,
  none: undefined,
};
const EST = 1 << TCP_ESTABLISHED;
const rows: Record<string, number> = {};
const keys = (t: Awaited<ReturnType<typeof takeSnapshot>>['table']) => Array.from({ length: t.length }, (_, i) => `${t.sport[i]} ${t.dport[i]}`).sort();
const seen: Record<string, string[]> = {};
const user: Record<string, number[]> = {};
const sys: Record<string, number[]> = {};
for (let rep = 0; rep < Number(a.reps); rep++)
  for (const [name, bytecode] of Object.entries(programs)) {
    const t0 = process.cpuUsage();
    const snap = await takeSnapshot({ protocols: ['tcp'], states: EST, bytecode }, s);
    const d = process.cpuUsage(t0);
    if (rep > 5) {
      (user[name] ??= []).push(d.user);
      (sys[name] ??= []).push(d.system);
    }
    rows[name] = snap.table.length;
    if (rep === 0) seen[name] = keys(snap.table);
    if (snap.notes.length) throw new Error(`${name}: ${snap.notes.join('; ')}`);
  }
s.close();
const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1];
const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
if (JSON.stringify(seen.search) !== JSON.stringify(seen.chain)) throw new Error('the two programs return different sockets');
console.log(`${ports.length} listening ports; ESTABLISHED sockets: ${rows.none}, on the listening ports: ${rows.search} (both programs)`);
console.log(`program bytes: search ${programs.search!.length}, chain ${programs.chain!.length}`);
for (const name of Object.keys(programs))
  console.log(
    `${name.padEnd(6)} per dump: system ${(mean(sys[name]) / 1000).toFixed(3)} ms mean (median ${(median(sys[name]) / 1000).toFixed(3)}), user ${(mean(user[name]) / 1000).toFixed(3)} ms mean`,
  );
