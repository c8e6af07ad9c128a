/**
 * `sockscope ls` for packet and netlink sockets against ss, in a throwaway namespace with sockets this test made
 * (python3: AF_PACKET raw and dgram, bound and not, with SO_ATTACH_FILTER programs, a fanout group and an rx ring;
 * AF_NETLINK bound, autobound, joined to a group and connected). Every line is compared with ss's field by
 * field: `ls -0 -n -e -p -b` with `ss -0 -n -e -p -b`, `ls -A netlink -a -p` with `ss -A netlink -a -n -p`,
 * `ls -f netlink -r -e -m` with `ss -f netlink -e -m`. vsock and XDP: this kernel's answer (ENOENT without the
 * diag module, read from /proc/config.gz) must be said with exit 1; with the module, ls lists what ss lists.
 * Nothing expected is written here: ss (or the kernel's config) says what is true.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DROP, FAMILY_MAKER as MAKER, IP_THEN_DROP } from '../helpers/family-maker.js';
import { holdPython, netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { entries, notTheDumper, sorted } from '../helpers/ss-entries.js';
import { replayTransport } from '../../src/snapshot/replay.js';
import { DiagSession } from '../../src/snapshot/session.js';
import { takeFamilySockets } from '../../src/snapshot/families.js';
import { familyTableText } from '../../src/outputs/listing/family-table.js';
import { done } from '../helpers/bytes.js';
import { sysfsInterfaceNames } from '../../src/util/net.js';

const support = netnsSupport();
const opts = { skip: support.skip ?? false };
const root = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${root}bin/sockscope.js`;
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  JSON.parse(readFileSync(`${root}schema/socket.schema.json`, 'utf8')),
);

/** Whether this kernel was built with a diag module, from /proc/config.gz (undefined: no config to read). */
function kernelHas(option: string): boolean | undefined {
  try {
    return new RegExp(`^${option}=[ym]$`, 'm').test(gunzipSync(readFileSync('/proc/config.gz')).toString('latin1'));
  } catch {
    return undefined;
  }
}

describe('ls -0, -A netlink, -f netlink, --vsock, --xdp against ss in a namespace', opts, () => {
  let ns: PopulationNetns | undefined;
  let maker: Awaited<ReturnType<typeof holdPython>> | undefined;
  // ss is given -n (numbers) below, and so is ls, unless -r (names: ss without -n)
  const ls = (...args: string[]) => ns!.run(process.execPath, [BIN, 'ls', ...(args.includes('-r') ? [] : ['-n']), ...args], { timeoutMs: 120_000 });
  const ss = (...args: string[]) => ns!.check('ss', args);

  before(async () => {
    ns = await PopulationNetns.start();
    maker = await holdPython(ns, MAKER, 'packet and netlink sockets', 20_000);
  });
  after(async () => {
    await maker?.stop();
    await ns?.stop();
  });

  test('ls -0 -n -e -p -b prints the lines ss -0 -n -e -p -b prints, field by field (filters, fanout, ring, users, ino, sk)', async () => {
    const theirs = entries(await ss('-0', '-n', '-e', '-p', '-b'));
    const r = await ls('-0', '-n', '-e', '-p', '-b');
    assert.equal(r.code, 0, r.stderr);
    const ours = entries(r.stdout);
    assert.deepEqual(ours.header, theirs.header);
    assert.equal(theirs.rows.length, 4, 'ss lists the four packet sockets the test made');
    assert.deepEqual(ours.rows, theirs.rows); // and in ss's order (the kernel's, one dump as ss's)
    const text = sorted(ours.rows).join('\n');
    for (const word of ['bpf filter (4):', 'fanout(id:7,type:lb)', 'ring_rx(blk_size:4096', '*:lo', '[34525]:*', '[2048]:*', 'users:(("python3"'])
      assert.ok(text.includes(word), `${word} in\n${text}`);
  });

  test('-0 with -a shows the State column (UNCONN), as ss -0 -a; -m adds skmem as ss does', async () => {
    const theirs = entries(await ss('-0', '-a', '-n', '-m'));
    const r = await ls('-0', '-a', '-m');
    assert.equal(r.code, 0, r.stderr);
    const ours = entries(r.stdout);
    assert.deepEqual(ours.header, theirs.header);
    assert.deepEqual(ours.rows, theirs.rows); // and in ss's order (the kernel's, one dump as ss's)
    assert.ok(ours.rows.every((row) => row[1] === 'UNCONN' && row.some((f) => f.startsWith('skmem:(r0,'))));
  });

  test('-A packet_raw and -A packet_dgram list the p_raw or the p_dgr lines of ss -0 -a (ss 6.1 itself lists both kinds for either)', async () => {
    // ss's packet_show_sock never checks the socket type against -A (only its /proc reader does): ss -A packet_raw
    // lists dgram sockets too. ls lists the table asked for: ss -0's lines of that Netid, without the column.
    const theirs = entries(await ss('-0', '-a', '-n', '-e')).rows;
    for (const [table, netid] of [
      ['packet_raw', 'p_raw'],
      ['packet_dgram', 'p_dgr'],
    ]) {
      const r = await ls('-A', table, '-a', '-e');
      assert.equal(r.code, 0, r.stderr);
      const want = theirs.filter((row) => row[0] === netid).map((row) => row.slice(1));
      assert.equal(want.length, 2, table);
      assert.deepEqual(entries(r.stdout).rows, want, table);
    }
  });

  test('ls -A netlink -a -p lists the netlink sockets ss -A netlink -a -n -p lists (protocol:port id, the connected peer)', async () => {
    const theirs = entries(await ss('-A', 'netlink', '-a', '-n', '-p'));
    const r = await ls('-A', 'netlink', '-a', '-p');
    assert.equal(r.code, 0, r.stderr);
    const ours = entries(r.stdout);
    assert.deepEqual(ours.header, theirs.header);
    assert.deepEqual(sorted(ours.rows.filter(notTheDumper)), sorted(theirs.rows.filter(notTheDumper)));
    assert.ok(
      ours.rows.some((row) => row[4] !== '*'),
      'the connected socket shows its peer',
    );
    assert.ok(ours.rows.length >= 5);
  });

  test('ls -f netlink -r -e -m names protocols and port ids as ss -f netlink -e -m does (rtnl:kernel, uevent:python3/PID, groups, skmem)', async () => {
    const theirs = entries(await ss('-f', 'netlink', '-e', '-m'));
    const r = await ls('-f', 'netlink', '-r', '-e', '-m');
    assert.equal(r.code, 0, r.stderr);
    const ours = entries(r.stdout);
    assert.deepEqual(ours.header, theirs.header);
    assert.deepEqual(sorted(ours.rows.filter(notTheDumper)), sorted(theirs.rows.filter(notTheDumper)));
    const pid = JSON.parse(maker!.line).pid;
    assert.ok(ours.rows.some((row) => row.includes(`uevent:python3/${pid}`) && row.includes('groups=0x00000001')));
  });

  test('-A netlink without -a lists nothing, as ss (its -A state filter is the connected states)', async () => {
    const theirs = entries(await ss('-A', 'netlink', '-n'));
    const r = await ls('-A', 'netlink');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(entries(r.stdout), theirs);
  });

  test('ndjson and json records validate against the schema and carry what ss printed (inode, cookie, filter)', async () => {
    const r = await ls('-0', '-A', 'netlink', '-a', '-e', '-b', '-m', '-p', '--format', 'ndjson');
    assert.equal(r.code, 0, r.stderr);
    const records = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    for (const rec of records) assert.ok(validate(rec), `${JSON.stringify(rec)}\n${JSON.stringify(validate.errors)}`);
    const packets = records.filter((x) => x.protocol === 'packet');
    assert.equal(packets.length, 4);
    // ss's ino:N sk:X pairs
    const ssPairs = [...(await ss('-0', '-n', '-e')).matchAll(/ino:(\d+) sk:([0-9a-f]+)/g)].map((m) => `${m[1]}/${m[2]}`).sort();
    assert.deepEqual(packets.map((p) => `${p.inode}/${p.cookie}`).sort(), ssPairs);
    const filters = packets
      .map((p) => p.bpf_filter?.map((i: Record<string, number>) => [i.code, i.jt, i.jf, i.k]))
      .filter(Boolean)
      .sort((x, y) => x.length - y.length);
    assert.deepEqual(filters, [DROP, DROP, IP_THEN_DROP]);
    assert.ok(packets.every((p) => p.processes?.[0]?.comm === 'python3'));
    assert.ok(records.some((x) => x.protocol === 'netlink' && x.netlink.connected && x.netlink.peer_port_id === 0));
    const doc = JSON.parse((await ls('-0', '--format', 'json')).stdout);
    assert.equal(doc.sockets.length, 4);
  });

  test('packet and netlink lines come before inet and unix ones, as in ss -a -0 -f netlink -t', async () => {
    const r = await ls('-0', '-f', 'netlink', '-t', '-a');
    assert.equal(r.code, 0, r.stderr);
    const netids = entries(r.stdout).rows.map((row) => row[0]);
    const theirs = entries(await ss('-0', '-f', 'netlink', '-t', '-a', '-n')).rows.map((row) => row[0]);
    const order = (ids: string[]) => [...new Set(ids.map((id) => (id.startsWith('p_') ? 'p' : id)))];
    assert.deepEqual(order(netids), order(theirs));
    assert.deepEqual(order(netids), ['nl', 'p', 'tcp']);
  });

  for (const [flag, option, module] of [
    ['--vsock', 'CONFIG_VSOCKETS_DIAG', 'vsock_diag'],
    ['--xdp', 'CONFIG_XDP_SOCKETS_DIAG', 'xsk_diag'],
  ] as const) {
    test(`${flag}: this kernel's answer (without ${option}: said with exit 1, no stack trace)`, async (t) => {
      const has = kernelHas(option);
      if (has === undefined) return t.skip('no /proc/config.gz to tell whether the kernel has the module');
      const r = await ls(flag, '-a');
      if (has) {
        assert.equal(r.code, 0, r.stderr);
        return;
      }
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `sockscope: the kernel has no ${module} (${option}): ${flag === '--vsock' ? 'vsock' : 'XDP'} sockets cannot be listed here\n`);
      // -A all names no family: the others are listed, the missing ones noted
      const all = await ls('-A', 'all', '-a');
      assert.equal(all.code, 0, all.stderr);
      assert.match(all.stderr, new RegExp(`the kernel has no ${module}`));
      assert.ok(entries(all.stdout).rows.some((row) => row[0] === 'p_raw'));
    });
  }

  test('what cannot go with these families is a usage error (exit 2) saying why', async () => {
    for (const args of [
      ['-0', '--format', 'ss2'],
      ['-f', 'netlink', '-K'],
      ['--xdp', '-E'],
      ['-A', 'packet', '--all-netns'],
    ]) {
      const r = await ls(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^sockscope: .+\n$/, args.join(' '));
    }
  });

  // ss reads packet and netlink sockets' ports and addresses as it prints them (misc/ss.c packet_stats_print,
  // netlink_show_one): the interface or port id is the port, the protocol the address; -0 / -f netlink as the last
  // family option make every condition read that way, a link: / netlink: prefix one condition, and either binds the
  // listing to that family. Each line: ls's arguments, then ss's (-n: ls prints numbers unless -r).
  const FILTERS: string[][] = [
    ['-0', '-a', 'src', ':3'],
    ['-0', '-a', 'src', ':0x0003'],
    ['-0', '-a', 'src', ':lo'],
    ['-0', '-a', 'src', 'ip'],
    ['-0', '-a', 'src', 'IPv6:*'],
    ['-0', '-a', 'src', 'all:lo'],
    ['-0', '-a', 'src', '0x86dd'],
    ['-0', '-a', 'sport', '=', ':1'],
    ['-0', '-a', 'sport', '>', ':0'],
    ['-0', '-a', 'sport', '<=', ':0'],
    ['-0', '-a', 'dport', '=', ':0'],
    ['-0', '-a', 'dev', 'lo'],
    ['-0', '-a', 'not', 'dev', 'lo'],
    ['-0', '-a', 'autobound'],
    ['-0', '-a', 'not', 'autobound'],
    ['-0', '-a', 'fwmark', '0'],
    ['-0', '-a', '(', 'src', 'ip', 'or', 'src', ':lo', ')', 'and', 'not', 'src', 'all:*'],
    ['-f', 'netlink', '-a', 'src', ':0'],
    ['-f', 'netlink', '-a', 'src', 'rtnl:kernel'],
    ['-f', 'netlink', '-a', 'src', 'uevent'],
    ['-f', 'netlink', '-a', 'src', '15:*'],
    ['-f', 'netlink', '-a', 'sport', '<', ':0'],
    ['-f', 'netlink', '-a', 'dport', '=', ':0'],
    ['-f', 'netlink', '-a', 'dst', '*'],
    ['-f', 'netlink', '-a', 'autobound'],
    ['-A', 'netlink', '-a', 'src', '0.0.0.0/8'],
    ['-A', 'netlink,packet', '-a', 'sport', '=', ':1'],
    ['-0', '-t', '-a', 'sport', '=', ':1'],
    ['-t', '-a', 'src', 'link:ip'],
    ['-a', 'src', 'netlink:*'],
    ['-a', 'src', 'link:*:lo'],
  ];
  test(`${FILTERS.length} filters on packet and netlink sockets select the lines ss selects (ports, protocols, dev, autobound, the family they bind)`, async () => {
    for (const args of FILTERS) {
      const r = await ls(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      const ours = entries(r.stdout);
      const theirs = entries(await ss('-n', ...args));
      assert.deepEqual(ours.header, theirs.header, args.join(' '));
      assert.deepEqual(sorted(ours.rows.filter(notTheDumper)), sorted(theirs.rows.filter(notTheDumper)), args.join(' '));
    }
    // not vacuous: the listings differ, and some select a part of the sockets
    const count = async (...args: string[]) => entries((await ls(...args)).stdout).rows.length;
    assert.ok((await count('-0', '-a', 'src', ':lo')) > 0 && (await count('-0', '-a', 'src', ':lo')) < (await count('-0', '-a')));
    assert.ok((await count('-f', 'netlink', '-a', 'src', 'uevent')) > 0);
    assert.equal(await count('-t', '-a', 'src', 'link:ip'), 0);
  });

  test('what ss refuses in a packet or netlink filter is a usage error naming the word (exit 2)', async () => {
    for (const args of [
      ['-0', '-a', 'src', '127.0.0.1'],
      ['-0', '-a', 'src', ':nosuchdev0'],
      ['-f', 'netlink', '-a', 'src', 'nosuchproto'],
      ['-f', 'netlink', '-a', 'src', ':user'],
      ['-a', 'src', 'link:256x'],
    ]) {
      const r = await ls(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^sockscope: invalid filter: expected an address prefix after 'src' at position \d+: .+\n.+\n *\^+\n$/, args.join(' '));
      const theirs = await ns!.run('ss', ['-n', ...args]);
      assert.notEqual(theirs.code, 0, `ss refuses ${args.join(' ')} too`);
    }
  });

  test('ls -a lists the nl, p_raw and p_dgr lines ss -a lists (its default tables); without -a or -l, none, as ss', async () => {
    const netids = (text: string) => entries(text).rows.map((row) => row[0]);
    const r = await ls('-a');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no note for the families this kernel lacks (vsock, XDP), as ss says nothing');
    const theirs = entries(await ss('-a', '-n'));
    const familyRows = (rows: string[][]) => sorted(rows.filter((row) => /^(nl|p_raw|p_dgr)$/.test(row[0])).filter(notTheDumper));
    assert.deepEqual(familyRows(entries(r.stdout).rows), familyRows(theirs.rows));
    assert.ok(netids(r.stdout).includes('p_raw') && netids(r.stdout).includes('nl'));
    // ss's order: netlink, packet, then the others
    const order = [...new Set(netids(r.stdout).map((id) => (id.startsWith('p_') ? 'p' : id)))];
    assert.deepEqual(order.slice(0, 2), ['nl', 'p']);
    const listening = await ls('-l');
    assert.deepEqual(familyRows(entries(listening.stdout).rows), familyRows(entries(await ss('-l', '-n')).rows));
    for (const text of [(await ls()).stdout, await ss('-n')]) assert.ok(!netids(text).some((id) => /^(nl|p_)/.test(id)));
  });

  test('without packet_diag and netlink_diag (ENOENT) the sockets are read from /proc/net/packet and /proc/net/netlink, as ss reads them there', async () => {
    // the kernel's answer replayed (this kernel has both modules); the files are the namespace's, through /proc/PID
    const enoent = () => new DiagSession(replayTransport(() => [done(0, 2)]));
    const procRoot = `/proc/${ns!.pid}`;
    for (const [family, ssArgs] of [
      ['packet', ['-0', '-a', '-e', '-n']],
      ['netlink', ['-A', 'netlink', '-a', '-e', '-n']],
    ] as const) {
      const r = await takeFamilySockets([{ family, states: 1 << 7, required: true }], { procRoot }, enoent());
      assert.deepEqual(r.notes, [
        `the kernel has no ${family}_diag (CONFIG_${family.toUpperCase()}_DIAG): ${family} sockets read from /proc/net/${family} (no details)`,
      ]);
      const ours = entries(
        familyTableText(r.sockets, { extended: true, interfaceName: sysfsInterfaceNames() }, { header: true, netid: family === 'packet', state: true }),
      ).rows;
      // ss reads the same files when PROC_ROOT is set
      const theirs = entries(await ns!.check('env', ['PROC_ROOT=/proc', 'ss', ...ssArgs])).rows;
      assert.ok(theirs.length >= 4, `ss lists the ${family} sockets`);
      assert.deepEqual(sorted(ours.filter(notTheDumper)), sorted(theirs.filter(notTheDumper)), family);
    }
    // a filter goes with them as with the dump
    const lo = await takeFamilySockets([{ family: 'packet', states: 1 << 7, required: true }], { procRoot, select: (s) => s.packet?.ifindex === 1 }, enoent());
    assert.equal(lo.sockets.length, 2);
  });
});
