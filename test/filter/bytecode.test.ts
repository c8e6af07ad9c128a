/**
 * The kernel programs, byte for byte. Where ss 6.1 compiles the same expression, the expected bytes are what
 * it sent (captured with `strace -e trace=sendmsg -e write=all ss -tan EXPR`); otherwise they are built from the
 * op layouts in shared/reference/kernel-abi.md section 2:
 *
 *   struct inet_diag_bc_op   { u8 code; u8 yes; u16 no; }
 *   struct inet_diag_hostcond { u8 family; u8 prefix_len; [2 pad]; int port; __be32 addr[] }
 *
 * Every program must also pass the kernel's audit (test/helpers/kernel-filter-model.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BcOp, compileFilter, parseServices, type FilterContext } from '../../src/filter/index.js';
import { concat, hex, le16, le32, le64, toHex, zeros } from '../helpers/bytes.js';
import { audit } from '../helpers/kernel-filter-model.js';

const services = parseServices('ssh 22/tcp\nhttp 80/tcp\nhttps 443/tcp\n');
const ctx: FilterContext = {
  defaultStates: 0xfff,
  services,
  resolveDevice: (name) => ({ lo: 1, eth0: 2 })[name],
  resolveCgroup: (path) => ({ '/': 1n, '/system.slice': 0x1_0000_0042n })[path],
  ephemeralPorts: { low: 32768, high: 60999 },
};

const program = (text: string, extra: Partial<FilterContext> = {}): Uint8Array | undefined => compileFilter(text, { ...ctx, ...extra }).bytecode;

function expectProgram(text: string, expected: Uint8Array | readonly number[], extra: Partial<FilterContext> = {}): void {
  const got = program(text, extra);
  assert.ok(got, `${text}: no program`);
  assert.equal(toHex(got), toHex(Uint8Array.from(expected)), text);
  assert.equal(audit(got, extra.netAdmin ?? false), 0, `${text}: the kernel would refuse it`);
}

/** op header */
const op = (code: number, yes: number, no: number) => [code, yes, ...le16(no)];
/** S_COND/D_COND with an IPv4 or AF_UNSPEC hostcond (4 address bytes, as ss sends) */
const cond4 = (code: number, family: number, plen: number, port: number, addr: number[] = [0, 0, 0, 0]) => [
  ...op(code, 16, 20),
  family,
  plen,
  0,
  0,
  ...le32(port),
  ...addr,
];
const cond6 = (code: number, plen: number, port: number, addr: number[]) => [...op(code, 28, 32), 10, plen, 0, 0, ...le32(port), ...addr];

describe('bytecode: what ss 6.1 sends for the same expression', () => {
  it('sport = :22  (S_COND, AF_UNSPEC, port 22)', () => {
    expectProgram('sport = :22', hex('07 10 14 00  00 00 00 00  16 00 00 00  00 00 00 00'));
  });
  it('src 127.0.0.1', () => {
    expectProgram('src 127.0.0.1', hex('07 10 14 00  02 20 00 00  ff ff ff ff  7f 00 00 01'));
  });
  it('dst [::1]:80', () => {
    expectProgram('dst [::1]:80', hex('08 1c 20 00  0a 80 00 00  50 00 00 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01'));
  });
  it('src [::ffff:127.0.0.1]', () => {
    expectProgram('src [::ffff:127.0.0.1]', hex('07 1c 20 00  0a 80 00 00  ff ff ff ff  00 00 00 00 00 00 00 00 00 00 ff ff 7f 00 00 01'));
  });
  it('sport >= :1024  (S_GE and its operand op)', () => {
    expectProgram('sport >= :1024', hex('02 08 0c 00  00 00 00 04'));
  });
  it('sport > :1024  (not S_LE)', () => {
    expectProgram('sport > :1024', hex('03 08 0c 00  00 00 00 04  01 04 08 00'));
  });
  it('not autobound', () => {
    expectProgram('not autobound', hex('06 04 08 00  01 04 08 00'));
  });
  it('sport = :1 or dport = :2  (JMP over the second)', () => {
    expectProgram(
      'sport = :1 or dport = :2',
      hex(`
      07 10 14 00  00 00 00 00  01 00 00 00  00 00 00 00
      01 04 14 00
      08 10 14 00  00 00 00 00  02 00 00 00  00 00 00 00`),
    );
  });
  it('dst 127.0.0.1/8 and not sport = :22  (reject jump patched past the second)', () => {
    expectProgram(
      'dst 127.0.0.1/8 and not sport = :22',
      hex(`
      08 10 28 00  02 08 00 00  ff ff ff ff  7f 00 00 01
      07 10 14 00  00 00 00 00  16 00 00 00  00 00 00 00
      01 04 08 00`),
    );
  });
  it('( sport = :1 or sport = :2 ) and not ( dst 10.0.0.0/8 or dport >= :1024 )', () => {
    expectProgram(
      '( sport = :1 or sport = :2 ) and not ( dst 10.0.0.0/8 or dport >= :1024 )',
      hex(`
      07 10 14 00  00 00 00 00  01 00 00 00  00 00 00 00
      01 04 14 00
      07 10 34 00  00 00 00 00  02 00 00 00  00 00 00 00
      08 10 14 00  02 08 00 00  ff ff ff ff  0a 00 00 00
      01 04 0c 00
      04 08 0c 00  00 00 00 04
      01 04 08 00`),
    );
  });
  it('not ( sport = :1 and dport = :2 ) or autobound', () => {
    expectProgram(
      'not ( sport = :1 and dport = :2 ) or autobound',
      hex(`
      07 10 24 00  00 00 00 00  01 00 00 00  00 00 00 00
      08 10 14 00  00 00 00 00  02 00 00 00  00 00 00 00
      01 04 08 00
      01 04 08 00
      06 04 08 00`),
    );
  });
  it('fwmark = 0x1/0xf  (MARK_COND, with netAdmin)', () => {
    expectProgram('fwmark = 0x1/0xf', hex('0a 0c 10 00  01 00 00 00  0f 00 00 00'), { netAdmin: true });
  });
});

describe('bytecode: from the op layouts', () => {
  it('dport != :https  (not D_COND)', () => {
    expectProgram('dport != :https', concat(cond4(BcOp.D_COND, 0, 0, 443), op(BcOp.JMP, 4, 8)));
  });
  it('sport < :1024, dport <= :80, dport > :80', () => {
    expectProgram('sport < :1024', concat(op(BcOp.S_GE, 8, 12), op(0, 0, 1024), op(BcOp.JMP, 4, 8)));
    expectProgram('dport <= :80', concat(op(BcOp.D_LE, 8, 12), op(0, 0, 80)));
    expectProgram('dport > :80', concat(op(BcOp.D_LE, 8, 12), op(0, 0, 80), op(BcOp.JMP, 4, 8)));
  });
  it('src *:80 and dst * (AF_UNSPEC hostconds, port -1 for any)', () => {
    expectProgram('src *:80', cond4(BcOp.S_COND, 0, 0, 80));
    expectProgram('dst *', cond4(BcOp.D_COND, 0, 0, -1));
    expectProgram('sport = *', cond4(BcOp.S_COND, 0, 0, -1));
  });
  it('src 10/8:22 (short dotted prefix, with a port)', () => {
    expectProgram('src 10/8:22', cond4(BcOp.S_COND, 2, 8, 22, [10, 0, 0, 0]));
  });
  it('dst [2001:db8::/32]:443', () => {
    expectProgram('dst [2001:db8::/32]:443', cond6(BcOp.D_COND, 32, 443, [0x20, 0x01, 0x0d, 0xb8, ...zeros(12)]));
  });
  it('dev lo, dev != 2 (DEV_COND: ss leaves dev to user space; the kernel can test it)', () => {
    expectProgram('dev lo', concat(op(BcOp.DEV_COND, 8, 12), le32(1)));
    expectProgram('dev != eth0', concat(op(BcOp.DEV_COND, 8, 12), le32(2), op(BcOp.JMP, 4, 8)));
    expectProgram('dev 7', concat(op(BcOp.DEV_COND, 8, 12), le32(7)));
  });
  it('cgroup /system.slice (CGROUP_COND, u64 id)', () => {
    expectProgram('cgroup /system.slice', concat(op(BcOp.CGROUP_COND, 12, 16), le64(0x1_0000_0042n)));
    expectProgram('cgroup != /', concat(op(BcOp.CGROUP_COND, 12, 16), le64(1n), op(BcOp.JMP, 4, 8)));
  });
  it('juxtaposition compiles as and', () => {
    assert.equal(toHex(program('src 127.0.0.1 sport = :22')!), toHex(program('src 127.0.0.1 and sport = :22')!));
  });
  it('a or b and c: left to right, as ss: (a or b) and c', () => {
    const a = cond4(BcOp.S_COND, 0, 0, 1);
    const b = cond4(BcOp.D_COND, 0, 0, 2);
    const c = cond4(BcOp.S_COND, 2, 32, -1, [1, 2, 3, 4]);
    // a's reject (20) lands on b; b's reject is moved past c: 20 + 16
    const bPatched = [...op(BcOp.D_COND, 16, 36), ...b.slice(4)];
    expectProgram('sport = :1 or dport = :2 and src 1.2.3.4', concat(a, op(BcOp.JMP, 4, 20), bPatched, c));
  });
});

describe('bytecode: what stays in user space', () => {
  it('no expression, no program', () => {
    assert.equal(program(''), undefined);
    assert.equal(program('state established'), undefined);
  });
  it('fwmark without netAdmin: left out, never negated', () => {
    assert.equal(program('fwmark 1'), undefined);
    assert.equal(program('not fwmark 1'), undefined);
    assert.equal(program('fwmark 1 or sport = :22'), undefined);
    assert.equal(program('not ( fwmark 1 and sport = :22 )'), undefined);
    // under and, the rest still goes to the kernel (a superset: user space decides)
    expectProgram('fwmark 1 and sport = :22', hex('07 10 14 00  00 00 00 00  16 00 00 00  00 00 00 00'));
    expectProgram('sport = :22 fwmark 1', hex('07 10 14 00  00 00 00 00  16 00 00 00  00 00 00 00'));
  });
  it('a program too long for the kernel (u16 jumps) is dropped with a warning', () => {
    const huge = Array.from({ length: 5000 }, (_, i) => `sport = :${i}`).join(' or ');
    const f = compileFilter(huge, ctx);
    assert.equal(f.bytecode, undefined);
    assert.match(f.warnings.join('\n'), /too long for the kernel/);
    // a long one that fits is still sent, and the kernel would take it
    const long = Array.from({ length: 1000 }, (_, i) => `sport = :${i}`).join(' or ');
    const p = program(long)!;
    assert.equal(p.length, 1000 * 16 + 999 * 4);
    assert.equal(audit(p, false), 0);
  });
  it('needsAttributes only for fwmark and cgroup', () => {
    assert.equal(compileFilter('sport = :22 and dev lo', ctx).needsAttributes, false);
    assert.equal(compileFilter('fwmark 1', ctx).needsAttributes, true);
    assert.equal(compileFilter('not cgroup /', ctx).needsAttributes, true);
  });
  it('warns about fwmark without CAP_NET_ADMIN, and about a or b and c', () => {
    assert.match(compileFilter('fwmark 1', { ...ctx, netAdmin: false }).warnings.join(), /user space only/);
    assert.deepEqual(compileFilter('fwmark 1', { ...ctx, netAdmin: true }).warnings, []);
    assert.match(compileFilter('sport = :1 or sport = :2 and dport = :3', ctx).warnings.join(), /means '\(sport = :1 or sport = :2\) and dport = :3'/);
    assert.deepEqual(compileFilter('( sport = :1 or sport = :2 ) and dport = :3', ctx).warnings, []);
    assert.deepEqual(compileFilter('sport = :1 and sport = :2 or dport = :3', ctx).warnings, []);
  });
});
