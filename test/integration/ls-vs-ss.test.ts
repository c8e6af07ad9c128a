/**
 * `sockscope ls` against ss in a throwaway namespace with a known population: the same sockets (protocol,
 * addresses, ports, inode, state) for each flag set; json/ndjson validate against the published schema and
 * ss2 parses as one document; -p names the holders; -r stays within its budget with a resolver that never
 * answers; bad input gets one clear message and exit 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { LS_VS_SS_FLAG_SETS, parseSs, SS_STATE_NUMBERS, type SsRow } from '../helpers/ss.js';

const support = netnsSupport();
const opts = { skip: support.skip ?? false };
const root = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${root}bin/sockscope.js`;
const schema = JSON.parse(readFileSync(`${root}schema/socket.schema.json`, 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(schema);

const STATE_KEYS = [
  'unknown',
  'established',
  'syn_sent',
  'syn_recv',
  'fin_wait1',
  'fin_wait2',
  'time_wait',
  'close',
  'close_wait',
  'last_ack',
  'listen',
  'closing',
];
const NETID: Record<string, string> = { u_str: 'unix/stream', u_dgr: 'unix/dgram', u_seq: 'unix/seqpacket' };

type Rec = Record<string, any>;
const norm = (a: string) => (a === '*' ? '::' : a);

/** The identity of a socket as ss prints it. */
function ssKey(row: SsRow, netid?: string): string {
  const state = STATE_KEYS[SS_STATE_NUMBERS[row.state]];
  const id = netid ?? row.netid ?? '';
  if (id.startsWith('u_')) return `${NETID[id]}|${state}|${row.local.port}`; // unix: "port" is the inode
  const ino = row.fields.ino ?? '0';
  return `${id}|${state}|${norm(row.local.address)}|${row.local.port}|${norm(row.peer.address)}|${row.peer.port}|${ino}`;
}

/** The same identity from a sockscope record. */
function ourKey(r: Rec): string {
  if (r.protocol === 'unix') return `unix/${r.socket_type}|${r.state}|${r.inode}`;
  const v4mappedWildcard = r.family === 'ipv6' && r.local_address === '::' ? '::' : r.local_address;
  return `${r.protocol}|${r.state}|${v4mappedWildcard}|${r.local_port}|${r.remote_address}|${r.remote_port}|${r.inode}`;
}

describe('sockscope ls in a network namespace', opts, () => {
  let ns: PopulationNetns | undefined;
  const ls = async (...args: string[]) => ns!.run(process.execPath, [BIN, 'ls', ...args], { timeoutMs: 120_000 });
  const ndjson = async (...args: string[]): Promise<Rec[]> => {
    const r = await ls('--format', 'ndjson', '-e', ...args);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  };
  const ss = async (...args: string[]) => parseSs(await ns!.check('ss', [...args, '-eO'])).rows;

  before(async () => {
    ns = await PopulationNetns.start();
  });
  after(async () => {
    await ns?.stop();
  });

  // ss hides its State column when only one state can be listed (ss -un): compare with -uan's ESTAB rows
  const flagSets: [string[], string[], string?][] = [
    [['-t'], ['-tn']],
    [['-t', '-a'], ['-tan']],
    [['-t', '-l'], ['-tln']],
    [['-u', '-a'], ['-uan']],
    [['-u'], ['-uan'], 'ESTAB'],
    [['-x', '-a'], ['-xan']],
    [['-x'], ['-xn']],
    [['-x', '-l'], ['-xln']],
    [['-t', '-a', '-4'], ['-tan4']],
    [['-t', '-a', '-6'], ['-tan6']],
    [['-u', '-l', '-6'], ['-uln6']],
    [['-tua'], ['-tuan']],
  ];
  for (const [ours, theirs, onlyState] of flagSets) {
    test(`ls ${ours.join(' ')} lists what ss ${theirs.join(' ')} lists${onlyState ? ` in ${onlyState}` : ''}`, async () => {
      const rows = (await ss(...theirs)).filter((r) => !onlyState || r.state === onlyState);
      const netid = theirs[0].includes('t') && !theirs[0].includes('u') ? 'tcp' : theirs[0].includes('u') && !theirs[0].includes('t') ? 'udp' : undefined;
      const want = rows.map((r) => ssKey(r, netid)).sort();
      const got = (await ndjson(...ours)).map(ourKey).sort();
      assert.ok(want.length > 0, 'ss lists something: the comparison is not vacuous');
      assert.deepEqual(got, want);
    });
  }

  test('every json and ndjson record validates against schema/socket.schema.json, with every section on', async () => {
    const all = await ndjson('-a', '-e', '-o', '-i', '-m', '-p');
    assert.ok(all.length > 40);
    for (const r of all) assert.ok(validate(r), `${JSON.stringify(r)}\n${JSON.stringify(validate.errors)}`);
    assert.ok(
      all.some((r) => r.tcp_info?.bytes_acked > 0),
      'tcp_info present',
    );
    assert.ok(
      all.some((r) => r.memory?.rcvbuf > 0),
      'memory present',
    );
    assert.ok(
      all.some((r) => r.timer?.name === 'timewait'),
      'timers present',
    );
    const doc = await ls('-a', '--format', 'json', '-i', '-e');
    assert.equal(doc.code, 0, doc.stderr);
    const parsed = JSON.parse(doc.stdout);
    assert.equal(parsed.sockets.length, all.length);
    for (const r of parsed.sockets) assert.ok(validate(r), JSON.stringify(validate.errors));
    assert.ok(Array.isArray(parsed.sources));
  });

  test('the schema describes every tcp_info name the records use, and rejects a misspelt one', async () => {
    const names = new Set(Object.keys(schema.properties.tcp_info.properties));
    const rec = (await ndjson('-t', '-i')).find((r) => r.tcp_info);
    for (const k of Object.keys(rec!.tcp_info)) assert.ok(names.has(k), k);
    assert.equal(validate({ ...rec, tcp_info: { ...rec!.tcp_info, rtt_usec: 1 } }), false);
  });

  test("--format ss2 is one valid JSON document in ss2's shape, with its defects fixed", async () => {
    const r = await ls('-t', '-x', '-a', '--format', 'ss2');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc), ['TCP', 'UNIX']);
    const flows = doc.TCP.flows as Rec[];
    const established = flows.filter((f) => f.tcp_info?.state === 'established');
    assert.ok(established.length > 0);
    assert.ok(
      flows.some((f) => f.src.includes(':')),
      'IPv6 flows are included',
    );
    assert.ok(
      flows.filter((f) => f.inode === 0).every((f) => f.tcp_info?.state),
      'TIME_WAIT flows carry a state',
    );
    for (const f of established) {
      assert.equal(f.tcp_info.null, undefined, 'no "null" key');
      assert.equal(typeof f.tcp_info.backoff, 'number');
      assert.equal(typeof f.tcp_info.rtt, 'number');
    }
    // wscale order against ss: ss prints wscale:<snd>,<rcv>
    const ssRows = await ss('-tni');
    for (const row of ssRows.filter((x) => x.fields.wscale)) {
      const f = flows.find((x) => x.src_port === row.local.port && x.dst_port === row.peer.port);
      if (!f) continue;
      assert.equal(`${f.tcp_info.snd_wscale},${f.tcp_info.rcv_wscale}`, row.fields.wscale);
    }
    assert.ok(
      doc.UNIX.flows.some((f: Rec) => typeof f.path_name === 'string' && f.path_name.startsWith('@')),
      'abstract names keep @',
    );
  });

  test('-p lists every holder of a socket, including one shared by two processes after fork()', async () => {
    // a parent and a forked child in the namespace hold one listening socket together
    // both hold it until their stdin (this process's pipe) closes: no fixed lifetime for a slow run to outlive
    const shared = spawn(
      'nsenter',
      [
        ...ns!.enterArgs(),
        '--',
        'python3',
        '-c',
        String.raw`
import os, socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
pid = os.fork()
if pid == 0:
    sys.stdin.read(); os._exit(0)
print(s.getsockname()[1], pid, flush=True)
sys.stdin.read()
`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        shared.stdout!.on('data', (b: Buffer) => {
          buf += b.toString();
          if (buf.includes('\n')) resolve(buf.trim());
        });
        shared.once('exit', () => reject(new Error('python exited early')));
        setTimeout(() => reject(new Error('python did not start')), 10_000);
      });
      const [port, childPid] = line.split(' ').map(Number);
      const recs = await ndjson('-tlp');
      const rec = recs.find((r) => r.local_port === port);
      assert.ok(rec, `listener on ${port}`);
      // nsenter execs python (no fork for a network namespace), so the spawned pid is the parent
      const byPid = (x: number, y: number) => x - y;
      assert.deepEqual(rec!.processes.map((p: Rec) => p.pid).sort(byPid), [shared.pid!, childPid].sort(byPid), JSON.stringify(rec!.processes));
      assert.ok(rec!.processes.every((p: Rec) => p.comm.startsWith('python')));
      // and the population's sockets are attributed to the holder, as ss -p says
      // one listing for every row (each -p run walks all of /proc/*/fd: seconds on a host with many descriptors)
      const ssP = await ss('-tanp');
      const everyState = recs.concat(await ndjson('-tap'));
      for (const row of ssP.filter((x) => x.fields.users)) {
        const pids = [...row.fields.users.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
        const ours = everyState.find((r) => ourKey(r) === ssKey(row, 'tcp'));
        if (ours)
          assert.deepEqual(
            ours.processes.map((p: Rec) => p.pid).sort((a: number, b: number) => a - b),
            pids,
            row.raw,
          );
      }
      // the table (the walk's workers overlapping the snapshot): users:(...) as ss prints them, holders in
      // (pid, fd) order where ss has its hash's order
      const holdersOf = (text: string) => [...text.matchAll(/\("([^"]*)",pid=(\d+),fd=(\d+)\)/g)].map((m) => `${m[1]}/${m[2]}/${m[3]}`);
      const table = await ls('-tanpe');
      assert.equal(table.code, 0, table.stderr);
      const ourUsers = new Map<string, string[]>();
      for (const line of table.stdout.split('\n')) {
        const ino = /users:.*\bino:(\d+)/.exec(line)?.[1]; // on the socket's own line, as ss prints it
        if (ino) ourUsers.set(ino, holdersOf(line));
      }
      let compared = 0;
      for (const row of ssP) {
        const ours = ourUsers.get(row.fields.ino ?? '');
        if (!ours || row.fields.ino === '0') continue;
        assert.deepEqual(
          ours,
          holdersOf(row.raw).sort((a, b) => Number(a.split('/')[1]) - Number(b.split('/')[1]) || Number(a.split('/')[2]) - Number(b.split('/')[2])),
          row.raw,
        );
        compared += ours.length;
      }
      assert.ok(compared >= 3, `holders compared: ${compared}`);
    } finally {
      shared.stdin!.destroy(); // the forked child ends at EOF
      shared.kill('SIGKILL');
    }
  });

  test('-r with a resolver that never answers finishes within its budget and keeps numbers', async () => {
    // a UDP "DNS server" on loopback inside the namespace that reads and never replies
    const silent = spawn(
      'nsenter',
      [
        ...ns!.enterArgs(),
        '--',
        'python3',
        '-c',
        "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 53535)); print('up', flush=True); sys.stdin.read()",
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await new Promise((r) => silent.stdout!.once('data', r));
      const started = Date.now();
      const r = await ns!.run('env', ['SOCKSCOPE_DNS_SERVERS=127.0.0.1:53535', process.execPath, BIN, 'ls', '-tr', '--format', 'ndjson']);
      const took = Date.now() - started;
      assert.equal(r.code, 0, r.stderr);
      // the 2 s budget plus a node start on a loaded machine; a resolver without a budget waits 4 × 5 s
      assert.ok(took < 15_000, `took ${took} ms`);
      const recs = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      // /etc/hosts names loopback; nothing else came from the silent server
      assert.ok(recs.every((x) => x.local_host === undefined || x.local_host === 'localhost' || /localhost/.test(x.local_host)));
    } finally {
      silent.stdin!.destroy();
      silent.kill('SIGKILL');
    }
  });

  test('filters reach the kernel and the output: ls -ta "sport = :PORT" equals ss', async () => {
    const port = ns!.population.tcp.listeners[0].port;
    const expr = ['(', 'sport', '=', `:${port}`, 'or', 'dport', '=', `:${port}`, ')'];
    const want = (await ss('-tan', ...expr)).map((x) => ssKey(x, 'tcp')).sort();
    const got = (await ndjson('-ta', ...expr)).map(ourKey).sort();
    assert.ok(want.length > 0);
    assert.deepEqual(got, want);
  });

  // The table is ss's table: for each flag set, every socket's line (its words, in order) as ss prints it with
  // -O, alignment aside; counters that move between the two runs (lastsnd, lastrcv, lastack, timers) compared by name
  const MOVING = /^(lastsnd|lastrcv|lastack|timer|busy|rcv_rtt|rcv_space|rcv_ssthresh):|^skmem:/;
  // (a SYN-SENT socket retransmits between the two runs: rto, backoff, segs_out, retrans move; its names are
  // compared, and backoff: left out: ss prints it once the first SYN was retransmitted, which may fall between the runs)
  const words = (line: string) => {
    const synSent = line.includes('SYN-SENT');
    const w = line
      .trim()
      .split(/\s+/)
      .filter((x) => !(synSent && x.startsWith('backoff:')));
    return w.map((x) => (MOVING.test(x) || (synSent && x.includes(':') && !x.includes('[') && !/^\d/.test(x)) ? x.split(':')[0] : x));
  };
  // (every member's ss word is printed by one of these flag sets: test/outputs/listing/ss-details.test.ts)
  for (const flags of LS_VS_SS_FLAG_SETS) {
    const [short, ...long] = flags.split(' ');
    test(`ls ${short}O${long.map((x) => ` ${x}`).join('')} prints ss's lines, word for word`, async () => {
      const theirs = (await ns!.check('ss', [`${short}O`, ...long])).split('\n').slice(1).filter(Boolean).map(words);
      const r = await ls(`${short}O`, ...long);
      assert.equal(r.code, 0, r.stderr);
      const ours = r.stdout.split('\n').slice(1).filter(Boolean).map(words);
      assert.ok(theirs.length > 0, 'ss lists something');
      const key = (w: string[]) => w.join(' ');
      // and in ss's order: each table's IPv4 lines before its IPv6 ones (one dump per family), the tables in ss's
      // order (unix, RAW, UDP, TCP), a family's lines in the kernel's hash order (the same walk as ss's)
      assert.deepEqual(ours.map(key).sort(), theirs.map(key).sort(), 'the lines');
      assert.deepEqual(ours.map(key), theirs.map(key), `the order\nls:\n${ours.map(key).join('\n')}\nss:\n${theirs.map(key).join('\n')}`);
    });
  }

  // The combinations people type most, each beside ss in the same namespace: the header's columns and every line,
  // word for word (-O: one line a socket) and in ss's order, moving counters by name. Each has -n (ls-flags-vs-ss.test.ts
  // compares the names ss and ls print without it). The netlink socket of the lister itself (ss's or ls's) is left out.
  const TYPED: ((port: number) => string[])[] = [
    () => ['-tulpn'],
    () => ['-lxn'],
    () => ['-uapn'],
    (port) => ['-tan', 'state', 'established', '(', 'dport', '=', `:${port}`, 'or', 'sport', '=', `:${port}`, ')'],
    () => ['-tno'],
    () => ['-tnmip'],
    () => ['-xen'],
    () => ['-Htan'],
    () => ['-4tan'],
    () => ['-6uan'],
    () => ['-f', 'inet', '-an'],
    () => ['-A', 'inet,unix', '-an'],
    () => ['-A', 'u_str', '-an'],
    () => ['-x', '-A', 'u_dgr', '-an'],
    () => ['-an', 'sport', '>=', ':1024'],
    () => ['-xan', 'src', 'unix:/tmp/*'],
    () => ['-xan', 'src', '@*'],
    () => ['-xan', 'autobound'],
    () => ['-nl'],
  ];
  test(`${TYPED.length} listings people type most print ss's header and lines, word for word`, async () => {
    const port = ns!.population.tcp.listeners[0].port;
    const lines = (text: string, headed: boolean) =>
      text
        .split('\n')
        .slice(headed ? 1 : 0)
        .filter(Boolean)
        .map(words)
        .filter((w) => !w.some((f) => /^4:(?!0$)\d+$/.test(f)))
        .map((w) => w.join(' '));
    const header = (text: string) => text.split('\n')[0].replace('PortProcess', 'Port Process').trim().split(/\s+/);
    for (const make of TYPED) {
      const args = make(port);
      const oneLine = ['-O', ...args];
      const headed = !args[0].includes('H');
      const theirs = await ns!.check('ss', ['-n', ...oneLine]);
      const r = await ls(...oneLine);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      if (headed) assert.deepEqual(header(r.stdout), header(theirs), args.join(' '));
      assert.ok(lines(theirs, headed).length > 0, `ss lists something for ${args.join(' ')}`);
      // the same lines first (a failure here is what was listed), then the same order
      const ours = lines(r.stdout, headed);
      const want = lines(theirs, headed);
      assert.deepEqual([...ours].sort(), [...want].sort(), `${args.join(' ')}: the lines`);
      assert.deepEqual(ours, want, `${args.join(' ')}: the order\nls:\n${ours.join('\n')}\nss:\n${want.join('\n')}`);
    }
  });

  test("-Z and -z print ss's users:(...) with proc_ctx= (and -z's sock_ctx=) as ss.c find_entry writes them", async () => {
    // ss 6.1 refuses both without SELinux (`ss: SELinux is not enabled.`): its -p lines, with the words its
    // PROC_CTX and PROC_SOCK_CTX formats add; with no label anywhere each says `unavailable`, as ss's no_ctx
    const context = (pid: string) => {
      try {
        return readFileSync(`/proc/${pid}/attr/current`, 'utf8').replace(/\0/g, '').trim() || 'unavailable';
      } catch {
        return 'unavailable';
      }
    };
    const withContexts = (line: string, sock: boolean) =>
      line.replace(
        /\("([^"]*)",pid=(\d+),fd=(\d+)\)/g,
        (_m, comm, pid, fd) => `("${comm}",pid=${pid},proc_ctx=${context(pid)},fd=${fd}${sock ? ',sock_ctx=unavailable' : ''})`,
      );
    const theirs = (await ns!.check('ss', ['-tulnpOH'])).split('\n').filter(Boolean).map(words);
    assert.ok(
      theirs.some((w) => w.some((x) => x.startsWith('users:'))),
      'ss names holders',
    );
    for (const [flag, sock] of [
      ['-Z', false],
      ['-z', true],
    ] as const) {
      const r = await ls('-tulnOH', flag);
      assert.equal(r.code, 0, r.stderr);
      const ours = r.stdout.split('\n').filter(Boolean).map(words);
      assert.deepEqual(
        ours.map((w) => w.join(' ')),
        theirs.map((w) => withContexts(w.join(' '), sock)),
        flag,
      );
    }
  });

  test('a table of IPv6 TCP lines alone (held until the walk ends) is aligned under its header', async () => {
    const r = await ls('-tan', 'src', '[::1]');
    assert.equal(r.code, 0, r.stderr);
    const [header, ...lines] = r.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length >= 3, r.stdout);
    const at = header.indexOf('Local Address:Port');
    for (const line of lines) {
      assert.equal(line.indexOf('[::1]:'), at, `${header}\n${line}`);
      assert.equal(line.slice(0, at).trimEnd().length < at, true);
    }
  });

  test('ls -s prints ss -s (the per-namespace transport table)', async () => {
    const theirs = (await ns!.check('ss', ['-s']))
      .split('\n')
      .slice(3)
      .map((l) => l.trimEnd());
    const r = await ls('-s');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .split('\n')
        .slice(3)
        .map((l) => l.trimEnd()),
      theirs,
    );
    assert.match(r.stdout, /^Total: \d+\nTCP: {3}\d+ \(estab \d+, closed -?\d+, orphaned \d+, timewait \d+\)\n/);
  });

  test('flags ss has that sockscope cannot honour say why (exit 2), not "unknown option"', async () => {
    for (const args of [['--tipc'], ['-d'], ['-A', 'tipc'], ['-f', 'tipc']]) {
      const r = await ls(...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.doesNotMatch(r.stderr, /Unknown option/i, args.join(' '));
      assert.match(r.stderr, /^sockscope: .*(TIPC|tipc|DCCP).*\n$/, args.join(' '));
    }
  });

  test('-K closes the listed sockets (SOCK_DESTROY), as ss -K: ss no longer lists them', async () => {
    // sockets of the test's own (closing the population's would end its holder): a listener and a connection
    const py =
      'import socket,sys,time\nl=socket.socket();l.bind(("127.0.0.1",0));l.listen(1)\nc=socket.create_connection(l.getsockname());a,_=l.accept()\nprint(c.getsockname()[1],flush=True)\ntime.sleep(60)';
    const child = spawn('nsenter', [`--net=/proc/${ns!.pid}/ns/net`, 'python3', '-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<string>((resolve, reject) => {
        child.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim()));
        child.once('exit', (code) => reject(new Error(`python exited ${code}`)));
      });
      const before = (await ns!.check('ss', ['-tnH', `sport = :${port}`])).split('\n').filter(Boolean);
      assert.equal(before.length, 1, before.join('\n'));
      // without CAP_NET_ADMIN: one line saying so, exit 1, nothing closed
      const drop = ['--inh-caps=-net_admin', '--ambient-caps=-net_admin', '--bounding-set=-net_admin', '--reuid=65534', '--regid=65534', '--clear-groups'];
      const denied = await ns!.run('setpriv', [...drop, process.execPath, BIN, 'ls', '-tn', '-K', 'sport', '=', `:${port}`], { timeoutMs: 20_000 });
      assert.equal(denied.code, 1, denied.stderr);
      assert.equal(denied.stderr, 'sockscope: -K: the kernel refused SOCK_DESTROY (EPERM): closing sockets needs CAP_NET_ADMIN (run as root)\n');
      assert.equal((await ns!.check('ss', ['-tnH', `sport = :${port}`])).split('\n').filter(Boolean).length, 1, 'still open');
      const r = await ls('-tn', '-K', 'sport', '=', `:${port}`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`:${port}\\b`), 'the closed socket is listed');
      const after = (await ns!.check('ss', ['-tnH', `sport = :${port}`])).split('\n').filter(Boolean);
      assert.equal(after.length, 0, after.join('\n'));
    } finally {
      child.kill();
    }
  });

  test("-D FILE writes the kernel's raw answer: one socket message per socket ss lists", async () => {
    // ss counted just before and just after: a socket of the population may change state (a SYN-SENT giving
    // up, a TIME-WAIT ending) between separate dumps on a loaded machine; when the two agree, exactly that many
    const count = async () => (await ns!.check('ss', ['-tanH'])).split('\n').filter(Boolean).length;
    const before = await count();
    const file = join(tmpdir(), `ss-diag-${process.pid}.bin`);
    const r = await ls('-ta', '-D', file);
    const after = await count();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'no listing with -D');
    const bytes = readFileSync(file);
    rmSync(file);
    let messages = 0;
    let done = 0;
    for (let off = 0; off + 16 <= bytes.length; ) {
      const len = bytes.readUInt32LE(off);
      const type = bytes.readUInt16LE(off + 4);
      if (type === 18 || type === 20) messages++; // TCPDIAG_GETSOCK (the legacy request) or SOCK_DIAG_BY_FAMILY
      if (type === 3) done++;
      assert.ok(len >= 16, 'a well-formed netlink header');
      off += (len + 3) & ~3;
    }
    if (before === after) assert.equal(messages, before);
    else
      assert.ok(messages >= Math.min(before, after) && messages <= Math.max(before, after), `${messages} socket messages, ss listed ${before} then ${after}`);
    assert.ok(done >= 1, 'NLMSG_DONE ends the dump');
  });

  test('-4 -6 together, -f and -A list what ss lists for them', async () => {
    for (const [ours, theirs] of [
      [
        ['-t', '-a', '-4', '-6'],
        ['-tan4', '-6'],
      ],
      [
        ['-a', '-f', 'inet'],
        ['-an', '-f', 'inet'],
      ],
      [
        ['-a', '-A', 'tcp,udp'],
        ['-an', '-A', 'tcp,udp'],
      ],
    ]) {
      const want = (await ns!.check('ss', [...theirs, '-H'])).split('\n').filter(Boolean).length;
      const r = await ls(...ours, '-H', '-n');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split('\n').filter(Boolean).length, want, ours.join(' '));
    }
  });

  test('-N enters another namespace by pid (root) or says clearly why not', async () => {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'ls', '-tan', '--format', 'ndjson', '-N', String(ns!.pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b) => (stdout += b));
      c.stderr.on('data', (b) => (stderr += b));
      c.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    if (ns!.mode === 'root') {
      assert.equal(r.code, 0, r.stderr);
      const inside = (await ndjson('-ta')).map(ourKey).sort();
      const viaN = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => ourKey({ ...JSON.parse(l), inode: undefined }))
        .sort();
      assert.deepEqual(viaN, inside.map((k) => k.replace(/\|\d+$/, '|undefined')).sort());
      // the table from outside: TCP in one walk per family there (the held IPv6 lines' count is not read from
      // another namespace), so in ss's order too
      const table = spawnSync(process.execPath, [BIN, 'ls', '-tanOH', '-N', String(ns!.pid)], { encoding: 'utf8' });
      assert.equal(table.status, 0, table.stderr);
      const lineWords = (text: string) =>
        text
          .split('\n')
          .filter(Boolean)
          .map(words)
          .map((w) => w.join(' '));
      assert.deepEqual(lineWords(table.stdout), lineWords(await ns!.check('ss', ['-tanOH'])));
    } else {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /setns\(\) failed: EPERM.*not permitted/);
    }
  });
});

describe('sockscope ls: bad input', () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'ls', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b) => (stdout += b));
      c.stderr.on('data', (b) => (stderr += b));
      c.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const cases: [string[], RegExp, number][] = [
    [['-Y'], /^sockscope: Unknown option '-Y'/, 1],
    [['--format', 'xml'], /^sockscope: --format must be one of table, json, ndjson, ss2, got 'xml'/, 1],
    [['-N', 'no-such-ns'], /^sockscope: unknown network namespace 'no-such-ns'/, 1],
    [['-f', 'bogus'], /^sockscope: -f\/--family must be one of/, 1],
    [['sport', '=', 'nonsense'], /^sockscope: invalid filter: .*\n {2}sport = nonsense\n {10}\^{8}$/, 3],
    [['(', 'sport', '=', ':22'], /^sockscope: invalid filter/, 3],
    [['state', 'bogus'], /^sockscope: invalid filter: .*bogus/, 3],
    [['src', '1.2.3.256/8'], /^sockscope: invalid filter/, 3],
    [['--all-netns', 'dev', 'lo'], /^sockscope: dev lo does not go with --all-netns: .*give the interface index/, 1],
  ];
  for (const [args, message, lines] of cases) {
    test(`ls ${args.join(' ')} → exit 2 and a clear message`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(r.stderr.trimEnd().split('\n').length, lines, r.stderr);
    });
  }
});
