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
  const ls = (...args: string[]) => ns!.run(process.execPath, [BIN, 'ls', ...args], { timeoutMs: 120_000 });
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
    assert.deepEqual(sorted(ours.rows), sorted(theirs.rows));
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
    assert.deepEqual(sorted(ours.rows), sorted(theirs.rows));
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
      assert.deepEqual(sorted(entries(r.stdout).rows), sorted(want), table);
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
      ['-0', 'sport', '=', ':22'],
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
});
