/**
 * The INET_DIAG_REQ_BYTECODE program for a filter, op for op what misc/ss.c ssfilter_bytecompile() emits, so
 * the kernel drops what cannot match before it crosses into user space.
 *
 *   struct inet_diag_bc_op { __u8 code; __u8 yes; __u16 no; }        yes: length of the op and its operands;
 *   struct inet_diag_hostcond { __u8 family; __u8 prefix_len; int port; __be32 addr[]; }   no: jump on failure
 *
 * The kernel (inet_diag_bc_run) runs ops in order: on success it moves `yes` bytes on, on failure `no` bytes.
 * Running off the end exactly accepts the socket; landing 4 bytes past the end (a "no" of len+4) rejects it.
 * Every fragment below follows that convention, so fragments compose:
 *   and: A then B, with A's reject jumps moved past B (ssfilter_patch)
 *   or:  A, JMP over B, B (A failing falls onto B)
 * A chain of one operator (a or b or c ...) is compiled in one go, to the same bytes.
 *   not: A, JMP 8 (A succeeding hits the jump to reject; A failing lands on the end: accept)
 *
 * One difference from ss: ss leaves `dev` out of the kernel ("bytecompile for SSF_DEVCOND not supported yet"),
 * which drops the whole program; here it is the kernel's DEV_COND. And MARK_COND, which the kernel refuses
 * with EPERM without CAP_NET_ADMIN, is emitted only when the caller says it holds that capability; otherwise
 * the program approximates the expression (see `Fragment.exact`) and matches() decides.
 */
import { BcOp, MAX_BYTECODE } from '../diag/constants.js';
import { chainOperands, type FilterNode } from './ast.js';

export { BcOp, MAX_BYTECODE } from '../diag/constants.js';

/**
 * A compiled piece. bytes undefined means "accept everything" (nothing for the kernel to test). exact is
 * false when the piece accepts more than the expression it stands for (user space must decide), and such a
 * piece cannot be negated.
 */
interface Fragment {
  bytes: Uint8Array | undefined;
  exact: boolean;
}

export interface BytecodeContext {
  /** ifindex for each dev node (resolved by the caller) */
  ifindex: (node: FilterNode & { kind: 'dev' }) => number;
  /** cgroup v2 id for each cgroup node */
  cgroupId: (node: FilterNode & { kind: 'cgroup' }) => bigint;
  /** emit MARK_COND (needs CAP_NET_ADMIN) */
  netAdmin: boolean;
}

function op(code: number, yes: number, no: number, operandBytes = 0): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(4 + operandBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, code);
  view.setUint8(1, yes);
  view.setUint16(2, no, true);
  return { bytes, view };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** ssfilter_patch: move every reject jump of `a` (a "no" landing at len + 4) by `reloc` bytes. */
function patchRejects(a: Uint8Array, reloc: number): void {
  const view = new DataView(a.buffer, a.byteOffset, a.byteLength);
  let at = 0;
  let len = a.length;
  while (len > 0) {
    const no = view.getUint16(at + 2, true);
    if (no === len + 4) view.setUint16(at + 2, no + reloc, true);
    const yes = view.getUint8(at + 1);
    len -= yes;
    at += yes;
  }
}

/** S_COND / D_COND: an op, a hostcond and 4 (or 16 for AF_INET6) address bytes, as ss lays them out. */
function hostcond(code: number, family: number, prefixLength: number, port: number, address: Uint8Array): Uint8Array {
  const alen = family === 10 ? 16 : 4;
  const oplen = 4 + 8 + alen;
  const { bytes, view } = op(code, oplen, oplen + 4, 8 + alen);
  view.setUint8(4, family);
  view.setUint8(5, prefixLength);
  view.setInt32(8, port, true);
  bytes.set(address.subarray(0, alen), 12);
  return bytes;
}

/** S_GE/S_LE/D_GE/D_LE: the op, then an operand op whose `no` carries the port. */
function portRange(code: number, port: number): Uint8Array {
  const { bytes, view } = op(code, 8, 12, 4);
  view.setUint16(6, port, true);
  return bytes;
}

const negate = (a: Uint8Array): Uint8Array => concat(a, op(BcOp.JMP, 4, 8).bytes);
const exact = (bytes: Uint8Array): Fragment => ({ bytes, exact: true });

/**
 * and over a chain: each operand's reject jumps are moved past everything after it (ssfilter_patch applied once
 * per AND of the left-leaning tree adds up to this). Operands with nothing for the kernel drop out.
 */
function and(parts: Fragment[]): Fragment {
  const isExact = parts.every((p) => p.exact);
  const kept = parts.filter((p) => p.bytes).map((p) => p.bytes!.slice());
  if (kept.length === 0) return { bytes: undefined, exact: isExact };
  let after = kept.reduce((n, b) => n + b.length, 0);
  for (const b of kept) {
    after -= b.length;
    if (after > 0) patchRejects(b, after);
  }
  return { bytes: concat(...kept), exact: isExact };
}

/** or over a chain: after each operand but the last, a JMP over the next one (which ends on the next JMP). */
function or(parts: Fragment[]): Fragment {
  if (parts.some((p) => !p.bytes)) return { bytes: undefined, exact: false };
  const out: Uint8Array[] = [parts[0].bytes!];
  for (let i = 1; i < parts.length; i++) out.push(op(BcOp.JMP, 4, parts[i].bytes!.length + 4).bytes, parts[i].bytes!);
  return { bytes: concat(...out), exact: parts.every((p) => p.exact) };
}

function not(a: Fragment): Fragment {
  if (!a.exact || !a.bytes) return { bytes: undefined, exact: false };
  return exact(negate(a.bytes));
}

function compile(node: FilterNode, ctx: BytecodeContext): Fragment {
  switch (node.kind) {
    case 'and':
      return and(chainOperands(node).map((n) => compile(n, ctx)));
    case 'or':
      return or(chainOperands(node).map((n) => compile(n, ctx)));
    case 'not':
      return not(compile(node.operand, ctx));
    case 'host':
      // a packet or netlink condition (link-values.ts): no inet socket is listed beside it (ss resets the families)
      if (node.family === 1 || node.family === 16 || node.family === 17) return { bytes: undefined, exact: false };
      return exact(hostcond(node.side === 'src' ? BcOp.S_COND : BcOp.D_COND, node.family, node.prefixLength, node.port, node.address));
    case 'port': {
      const src = node.side === 'src';
      const cond = () => hostcond(src ? BcOp.S_COND : BcOp.D_COND, 0, 0, node.port, new Uint8Array(16));
      // ssfilter.y: > is not <=, < is not >=
      switch (node.op) {
        case '=':
          return exact(cond());
        case '!=':
          return exact(negate(cond()));
        case '>=':
          return exact(portRange(src ? BcOp.S_GE : BcOp.D_GE, node.port));
        case '<=':
          return exact(portRange(src ? BcOp.S_LE : BcOp.D_LE, node.port));
        case '>':
          return exact(negate(portRange(src ? BcOp.S_LE : BcOp.D_LE, node.port)));
        case '<':
          return exact(negate(portRange(src ? BcOp.S_GE : BcOp.D_GE, node.port)));
      }
      break;
    }
    case 'dev': {
      const { bytes, view } = op(BcOp.DEV_COND, 8, 12, 4);
      view.setUint32(4, ctx.ifindex(node), true);
      return exact(node.op === '!=' ? negate(bytes) : bytes);
    }
    case 'fwmark': {
      if (!ctx.netAdmin) return { bytes: undefined, exact: false };
      const { bytes, view } = op(BcOp.MARK_COND, 12, 16, 8);
      view.setUint32(4, node.mark, true);
      view.setUint32(8, node.mask, true);
      return exact(node.op === '!=' ? negate(bytes) : bytes);
    }
    case 'cgroup': {
      const { bytes, view } = op(BcOp.CGROUP_COND, 12, 16, 8);
      view.setBigUint64(4, ctx.cgroupId(node), true);
      return exact(node.op === '!=' ? negate(bytes) : bytes);
    }
    case 'autobound':
      // The kernel's AUTO (no SOCK_BINDPORT_LOCK: the port was not bound explicitly) is not user space's test
      // (the port is in ip_local_port_range); as in ss, a socket is shown when both say yes. Sent as exact so
      // that `not autobound` reaches the kernel too, like ss.
      return exact(op(BcOp.AUTO, 4, 8).bytes);
  }
  throw new Error(`unreachable: ${(node as FilterNode).kind}`);
}

/**
 * The kernel program for an expression, or undefined when the kernel has nothing to test (no expression, or
 * nothing compilable at the top). `exact` says whether the program decides alone (apart from autobound).
 */
export function compileBytecode(root: FilterNode | undefined, ctx: BytecodeContext): { bytecode?: Uint8Array; exact: boolean; tooLong: boolean } {
  if (!root) return { exact: true, tooLong: false };
  const f = compile(root, ctx);
  if (!f.bytes) return { exact: f.exact, tooLong: false };
  if (f.bytes.length > MAX_BYTECODE) return { exact: false, tooLong: true };
  return { bytecode: f.bytes, exact: f.exact, tooLong: false };
}
