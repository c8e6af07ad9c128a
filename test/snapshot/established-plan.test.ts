/**
 * The reduced request plan's pure parts: which collectors let the gather leave ESTABLISHED sockets out (one
 * plan, the widest need), the filter program of the listening ports against a model of the kernel's
 * inet_diag_bc_audit/run (test/helpers/kernel-filter-model.ts), and how a full socket's message is told from a
 * timewait or request socket's. The kernel's side is tested in established.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectorDefaults, gatherConfigFromSections, planSnapshot } from '../../src/collectors/registry.js';
import { parsePortGroups } from '../../src/collectors/netstat-port.js';
import { INET_DIAG_MSG_SIZE, InetAttr } from '../../src/diag/constants.js';
import { isFullSocket, localPortsBytecode, widerNeed } from '../../src/snapshot/established.js';
import { audit, run, type DiagEntry } from '../helpers/kernel-filter-model.js';

const sections = (over: Record<string, object> = {}) => {
  const d = collectorDefaults();
  return gatherConfigFromSections({ ...d, ...Object.fromEntries(Object.entries(over).map(([k, v]) => [k, { ...d[k], ...v }])) });
};

describe('the plan: what the enabled collectors read of ESTABLISHED sockets', () => {
  it('the default collectors: a table with ESTABLISHED on listening ports only', () => {
    const p = planSnapshot(sections());
    assert.equal(p.table, true);
    assert.equal(p.options.established, 'listening-ports');
    assert.equal(p.options.establishedPorts, undefined);
  });

  it('netstat alone (census) and netstat with listen: counted only', () => {
    assert.equal(planSnapshot({ measurements: ['netstat'] }).options.established, 'count');
    const p = planSnapshot({ measurements: ['netstat', 'listen'] });
    assert.equal(p.table, true);
    assert.equal(p.options.established, 'count');
  });

  it('configured local ports are dumped too; remote ports, telegraf semantics or a collector of every socket: everything', () => {
    const ports = planSnapshot({ measurements: ['netstat_port'], netstatPort: { groups: parsePortGroups([{ ports: ['443', '127.0.0.1:80'] }]) } });
    assert.equal(ports.options.established, 'listening-ports');
    assert.deepEqual(ports.options.establishedPorts, [80, 443]);
    const remote = planSnapshot({ measurements: ['netstat_port'], netstatPort: { groups: parsePortGroups([{ remote_ports: ['5432'] }]) } });
    assert.equal(remote.options.established, undefined);
    assert.equal(planSnapshot(sections({ netstat: { semantics: 'telegraf' } })).options.established, undefined);
    assert.equal(planSnapshot(sections({ netstat_port: { semantics: 'telegraf' } })).options.established, undefined);
    for (const c of ['socketstat', 'doctor', 'lifecycle'])
      assert.equal(planSnapshot(sections({ [c]: { enabled: true } })).options.established, undefined, `${c} reads every socket`);
  });

  it('needs widen: count < listening-ports < all', () => {
    assert.equal(widerNeed('count', 'listening-ports'), 'listening-ports');
    assert.equal(widerNeed('all', 'count'), 'all');
    assert.equal(widerNeed('listening-ports', 'listening-ports'), 'listening-ports');
  });
});

describe('the listening ports program', () => {
  const entry = (sport: number, family = 2): DiagEntry => ({
    family,
    saddr: new Uint8Array(16),
    daddr: new Uint8Array(16),
    sport,
    dport: 40000,
    ifindex: 0,
    bindPortLock: false,
    mark: 0,
    cgroupId: 0n,
  });

  it('lets through the sockets on those ports, either family, and no other; the kernel accepts it', () => {
    const ports = [22, 80, 443, 8080, 65535];
    const bc = localPortsBytecode(ports)!;
    assert.equal(audit(bc, false), 0);
    for (const p of ports) for (const f of [2, 10]) assert.equal(run(bc, entry(p, f)), true, `port ${p} family ${f}`);
    for (const p of [0, 21, 23, 81, 442, 8081, 40000]) assert.equal(run(bc, entry(p)), false, `port ${p}`);
    assert.equal(run(localPortsBytecode([7])!, entry(7)), true);
  });

  it('a balanced search: for sets of 1 to 40 ports, each port in, its neighbours out, accepted by the audit, ≤ 20 bytes a port', () => {
    let seed = 13;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 1; n <= 40; n++) {
      const set = new Set<number>();
      while (set.size < n) set.add(1 + Math.floor(rand() * (n < 10 ? 40 : 65535)));
      if (n === 40) set.add(65535).add(1);
      const ports = [...set].sort((a, b) => a - b);
      const bc = localPortsBytecode(ports)!;
      assert.equal(audit(bc, false), 0, `${ports}`);
      assert.ok(bc.length <= 20 * ports.length, `${bc.length} bytes for ${ports.length} ports`);
      for (let p = 0; p <= 65535; p += p < 100 ? 1 : 97) assert.equal(run(bc, entry(p)), set.has(p), `${ports}: port ${p}`);
      for (const p of ports)
        for (const q of [p - 1, p, p + 1]) if (q >= 0 && q <= 65535) assert.equal(run(bc, entry(q, 10)), set.has(q), `${ports}: port ${q}`);
    }
  });

  it('too many ports for one program: none (every ESTABLISHED socket is dumped)', () => {
    assert.equal(localPortsBytecode(Array.from({ length: 6000 }, (_, i) => i + 1)), undefined);
  });
});

describe('full sockets by their message', () => {
  const message = (attrs: [number, number][]): { view: DataView; len: number } => {
    const len = INET_DIAG_MSG_SIZE + attrs.length * 8;
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    attrs.forEach(([type, value], k) => {
      const at = INET_DIAG_MSG_SIZE + k * 8;
      v.setUint16(at, 5, true);
      v.setUint16(at + 2, type, true);
      b[at + 4] = value;
    });
    return { view: v, len };
  };

  it('INET_DIAG_SHUTDOWN marks a full socket, wherever it stands; none (timewait) or a mark alone (request) does not', () => {
    const full = message([[InetAttr.SHUTDOWN, 0]]);
    assert.equal(isFullSocket(full.view, 0, full.len), true);
    const later = message([
      [15, 1],
      [InetAttr.SHUTDOWN, 3],
    ]);
    assert.equal(isFullSocket(later.view, 0, later.len), true);
    const tw = message([]);
    assert.equal(isFullSocket(tw.view, 0, tw.len), false);
    const req = message([[15, 7]]); // INET_DIAG_MARK
    assert.equal(isFullSocket(req.view, 0, req.len), false);
  });
});
