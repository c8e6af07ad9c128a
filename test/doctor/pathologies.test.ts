/**
 * Each pathology of issue 15 built for real in its own network namespace, and `sockscope doctor -N` must find
 * it with its culprit (the named process, listener, destination, peer); a busy but healthy namespace must give
 * no warning. Nothing expected is computed by sockscope's own code: the scenario says what it built.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import {
  atLeastWarning,
  BUSY_HEALTHY,
  diagnoseScenario,
  doctor,
  scenarioSkip,
  startScenario,
  type DoctorRun,
  LEAKY_SERVER,
} from '../helpers/doctor-scenario.js';

const skip = scenarioSkip();
const WINDOW = ['--window', '1s', '--format', 'json'];

function show(r: DoctorRun): string {
  return `exit ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 4000)}`;
}

function findingsOf(r: DoctorRun, check: string) {
  assert.ok(r.report, show(r));
  return r.report.findings.filter((f) => f.check === check);
}

// each pathology lives in its own namespace: they run side by side
describe('sockscope doctor finds each pathology and its culprit', { skip, concurrency: true }, () => {
  test('close_wait: a named server that never closes what its clients closed', async () => {
    await diagnoseScenario(
      String.raw`
${LEAKY_SERVER}def closer():
    setname('closer')
    n = 0
    while True:
        c = socket.create_connection(('127.0.0.1', 7001))
        time.sleep(0.01)
        c.close()
        n += 1
        time.sleep(0.01 if n < 20 else 0.2)   # 20 at once, then a steady leak
child(closer)
while len(kept) < 20:
    time.sleep(0.01)
time.sleep(0.3)
ready()
`,
      WINDOW,
      (s, r) => {
        assert.equal(r.code, 1, show(r));
        const f = findingsOf(r, 'close_wait');
        assert.equal(f.length, 1, show(r));
        assert.ok(atLeastWarning(f[0]), show(r));
        assert.deepEqual(f[0].subject.process, { pid: s.info.pid, comm: 'leakysrv' });
        assert.ok(f[0].evidence.value >= 20, show(r));
        assert.ok(f[0].evidence.new_in_window > 0, `the leak goes on during the window: ${show(r)}`);
        assert.equal(f[0].evidence.unit, 'sockets');
        assert.match(f[0].advice, /close\(\)/);
        // their Recv-Q of 1 is the peer's FIN, not unread data
        assert.deepEqual(findingsOf(r, 'stuck_receive_queue'), [], show(r));
        assert.equal(f[0].evidence.unread_bytes, 0);
      },
    );
  });

  test('accept_queue: a listener with a tiny backlog that never accepts, flooded with connects', async () => {
    await diagnoseScenario(
      String.raw`
setname('slowacc')
srv = listener(7002, backlog=2)   # never accept()ed
def flood():
    setname('flooder')
    socks = []
    while True:
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(('127.0.0.1', 7002))
        except BlockingIOError:
            pass
        socks.append(c)
        time.sleep(0.02)
child(flood)
time.sleep(0.5)
ready()
`,
      WINDOW,
      (s, r) => {
        assert.equal(r.code, 1, show(r));
        const f = findingsOf(r, 'accept_queue');
        const fill = f.find((x) => x.evidence.measure === 'fill');
        assert.ok(fill, show(r));
        assert.equal(fill.severity, 'critical');
        assert.equal(fill.subject.listener, '127.0.0.1:7002');
        assert.deepEqual(fill.subject.process, { pid: s.info.pid, comm: 'slowacc' });
        assert.equal(fill.evidence.backlog, 2);
        assert.ok(fill.evidence.accept_queue >= 2, show(r));
        const drops = f.find((x) => x.evidence.measure === 'drops');
        assert.ok(drops, `the listener's own drop counter rose: ${show(r)}`);
        assert.equal(drops.subject.listener, '127.0.0.1:7002');
        assert.equal(drops.subject.process.comm, 'slowacc');
        assert.ok(drops.evidence.drops_in_window > 0);
        assert.ok(
          f.some((x) => x.evidence.measure === 'overflows' && atLeastWarning(x)),
          `ListenOverflows over the window: ${show(r)}`,
        );
        // the flood's SYN_SENT sockets hold their SYN in the send queue against a 0 window: not a zero_window
        assert.deepEqual(findingsOf(r, 'zero_window'), [], show(r));
      },
    );
  });

  test('ephemeral_ports: ip_local_port_range narrowed to 100 ports, 95 connections to one destination', async () => {
    await diagnoseScenario(
      String.raw`
with open('/proc/sys/net/ipv4/ip_local_port_range', 'w') as f:
    f.write('40000 40099')
setname('portsrv')
srv = listener(7003, backlog=512)
kept = []
def acceptor():
    while True:
        c, _ = srv.accept()
        kept.append(c)
threading.Thread(target=acceptor, daemon=True).start()
def clients():
    setname('portuser')
    cs = [socket.create_connection(('127.0.0.1', 7003)) for _ in range(95)]
    forever()
child(clients)
while len(kept) < 95:
    time.sleep(0.01)
ready()
`,
      WINDOW,
      (_s, r) => {
        assert.equal(r.code, 1, show(r));
        const f = findingsOf(r, 'ephemeral_ports');
        assert.equal(f.length, 1, show(r));
        assert.equal(f[0].severity, 'critical');
        assert.equal(f[0].subject.source, '127.0.0.1');
        assert.equal(f[0].subject.destination, '127.0.0.1:7003');
        assert.equal(f[0].evidence.connections, 95);
        assert.equal(f[0].evidence.port_range_size, 100);
        assert.equal(f[0].evidence.value, 95);
        assert.match(f[0].advice, /tcp_tw_reuse/);
        assert.match(f[0].advice, /IP_BIND_ADDRESS_NO_PORT/);
      },
    );
  });

  test('stuck_receive_queue and zero_window: a receiver that never reads', async () => {
    await diagnoseScenario(
      String.raw`
setname('deafsrv')
srv = listener(7004)
def chatty():
    setname('chatty')
    c = socket.create_connection(('127.0.0.1', 7004))
    c.setblocking(False)
    while True:
        try:
            c.send(b'x' * 65536)
        except BlockingIOError:
            time.sleep(0.05)
child(chatty)
conn, _ = srv.accept()   # accepted, never read
time.sleep(1.5)
ready()
`,
      WINDOW,
      (s, r) => {
        assert.equal(r.code, 1, show(r));
        const stuck = findingsOf(r, 'stuck_receive_queue');
        assert.equal(stuck.length, 1, show(r));
        assert.ok(atLeastWarning(stuck[0]));
        assert.deepEqual(stuck[0].subject.process, { pid: s.info.pid, comm: 'deafsrv' });
        assert.ok(stuck[0].evidence.unread_bytes > 0);
        const zero = findingsOf(r, 'zero_window');
        assert.equal(zero.length, 1, show(r));
        assert.ok(atLeastWarning(zero[0]));
        assert.deepEqual(zero[0].subject.process, { pid: s.info.children[0], comm: 'chatty' });
        assert.equal(zero[0].subject.peer, '127.0.0.1:7004');
        assert.ok(zero[0].evidence.unsent_bytes > 0);
      },
    );
  });

  test('udp_drops: a UDP socket with a tiny receive buffer, flooded', async () => {
    await diagnoseScenario(
      String.raw`
setname('udpsink')
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
u.bind(('127.0.0.1', 7006))   # never read
def flood():
    setname('udpflood')
    o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while True:
        o.sendto(b'x' * 512, ('127.0.0.1', 7006))
        time.sleep(0.002)
child(flood)
time.sleep(0.3)
ready()
`,
      WINDOW,
      (s, r) => {
        assert.equal(r.code, 1, show(r));
        const f = findingsOf(r, 'udp_drops');
        const sock = f.find((x) => x.evidence.measure === 'drops');
        assert.ok(sock, show(r));
        assert.equal(sock.severity, 'critical');
        assert.equal(sock.subject.local, '127.0.0.1:7006');
        assert.deepEqual(sock.subject.process, { pid: s.info.pid, comm: 'udpsink' });
        assert.ok(sock.evidence.drops_in_window > 0);
        assert.ok(
          f.some((x) => x.evidence.measure === 'rcvbuf_errors' && atLeastWarning(x)),
          `RcvbufErrors over the window: ${show(r)}`,
        );
      },
    );
  });

  test('retransmits: loss on a veth pair between two namespaces (tc netem)', async (t) => {
    const a = 'doc-loss-a';
    const b = 'doc-loss-b';
    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 15_000 });
    const cleanup = () => sh(`ip netns del ${a} 2>/dev/null; ip netns del ${b} 2>/dev/null`);
    cleanup();
    const setup = sh(
      [
        `ip netns add ${a}`,
        `ip netns add ${b}`,
        `ip link add doc-va netns ${a} type veth peer name doc-vb netns ${b}`,
        `ip -n ${a} addr add 10.199.0.1/24 dev doc-va`,
        `ip -n ${b} addr add 10.199.0.2/24 dev doc-vb`,
        `ip -n ${a} link set lo up`,
        `ip -n ${b} link set lo up`,
        `ip -n ${a} link set doc-va up`,
        `ip -n ${b} link set doc-vb up`,
      ].join(' && '),
    );
    if (setup.status !== 0) {
      cleanup();
      assert.fail(`veth setup failed: ${setup.stderr}`);
    }
    sh('modprobe sch_netem 2>/dev/null');
    const netem = sh(`ip netns exec ${a} tc qdisc add dev doc-va root netem loss 20%`);
    if (netem.status !== 0) {
      cleanup();
      t.skip(`tc netem is not available here (modprobe sch_netem / tc qdisc add … netem failed: ${(netem.stderr || netem.error?.message || '').trim()})`);
      return;
    }
    const sink = await startScenario(
      String.raw`
setname('sink')
srv = listener(7005, host='10.199.0.2')
def reader(c):
    while c.recv(65536):
        pass
def acceptor():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=reader, args=(c,), daemon=True).start()
threading.Thread(target=acceptor, daemon=True).start()
ready()
`,
      { netns: b },
    );
    const sender = await startScenario(
      String.raw`
setname('lossysend')
c = socket.create_connection(('10.199.0.2', 7005))
def send():
    while True:
        c.sendall(b'y' * 1400)
        time.sleep(0.001)
threading.Thread(target=send, daemon=True).start()
time.sleep(0.5)
ready()
`,
      { netns: a },
    );
    try {
      const r = await doctor(['-N', a, '--window', '2s', '--format', 'json']);
      assert.equal(r.code, 1, show(r));
      const f = findingsOf(r, 'retransmits');
      assert.equal(f.length, 1, show(r));
      assert.ok(atLeastWarning(f[0]));
      assert.equal(f[0].subject.peer, '10.199.0.2');
      assert.ok(f[0].evidence.segments_sent >= 200, show(r));
      assert.ok(f[0].evidence.value >= 5, show(r));
    } finally {
      await sender.stop();
      await sink.stop();
      cleanup();
    }
  });
});

// alone, after the pathologies: no flood of theirs competes with it
describe('sockscope doctor on a healthy namespace', { skip }, () => {
  test('a busy but healthy namespace gives no warning (exit 0)', async () => {
    await diagnoseScenario(BUSY_HEALTHY, WINDOW, (_s, r) => {
      assert.ok(r.report, show(r));
      assert.ok(r.report.sockets > 10, `the namespace is busy: ${show(r)}`);
      assert.deepEqual(r.report.findings.filter(atLeastWarning), [], show(r));
      assert.equal(r.code, 0, show(r));
    });
  });
});
