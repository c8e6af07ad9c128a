/**
 * A model of the kernel's side of INET_DIAG_REQ_BYTECODE, written from net/ipv4/inet_diag.c (6.12) and
 * shared/reference/kernel-abi.md section 2, independently of src/filter: inet_diag_bc_audit() (what the kernel
 * accepts) and inet_diag_bc_run() (what it lets through). The tests check the programs src/filter emits
 * against it.
 */

/** struct inet_diag_entry: what the kernel knows of a socket when it runs the program. */
export interface DiagEntry {
  family: number;
  /** 16 bytes each, network order (IPv4 in the first 4) */
  saddr: Uint8Array;
  daddr: Uint8Array;
  sport: number;
  dport: number;
  ifindex: number;
  /** sk_userlocks has SOCK_BINDPORT_LOCK (the port was bound explicitly) */
  bindPortLock: boolean;
  mark: number;
  cgroupId: bigint;
}

const u16 = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8);
const i32 = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
const u32 = (b: Uint8Array, at: number): number => i32(b, at) >>> 0;
const u64 = (b: Uint8Array, at: number): bigint => BigInt(u32(b, at)) | (BigInt(u32(b, at + 4)) << 32n);

/** valid_cc(): does the jump target (cc bytes before the end) fall on an op boundary? */
function validCc(bc: Uint8Array, cc: number): boolean {
  let len = bc.length;
  let at = 0;
  while (len >= 0) {
    if (cc > len) return false;
    if (cc === len) return true;
    const yes = bc[at + 1];
    if (yes < 4 || yes & 3) return false;
    len -= yes;
    at += yes;
  }
  return false;
}

/** inet_diag_bc_audit(): 0, or the errno name the kernel would answer with. */
export function audit(bc: Uint8Array, netAdmin: boolean): 0 | 'EINVAL' | 'EPERM' {
  if (bc.length < 4) return 'EINVAL';
  let len = bc.length;
  let at = 0;
  while (len > 0) {
    const code = bc[at];
    const yes = bc[at + 1];
    const no = u16(bc, at + 2);
    let minLen = 4;
    switch (code) {
      case 7: // S_COND
      case 8: {
        // D_COND
        minLen += 8;
        if (len < minLen) return 'EINVAL';
        const family = bc[at + 4];
        const addrLen = family === 0 ? 0 : family === 2 ? 4 : family === 10 ? 16 : -1;
        if (addrLen < 0) return 'EINVAL';
        minLen += addrLen;
        if (len < minLen) return 'EINVAL';
        break;
      }
      case 9: // DEV_COND
        minLen += 4;
        if (len < minLen) return 'EINVAL';
        break;
      case 2:
      case 3:
      case 4:
      case 5:
      case 11:
      case 12: // port comparisons: an operand op
        minLen += 4;
        if (len < minLen) return 'EINVAL';
        break;
      case 10: // MARK_COND
        if (!netAdmin) return 'EPERM';
        minLen += 8;
        if (len < minLen) return 'EINVAL';
        break;
      case 13: // CGROUP_COND
        minLen += 8;
        if (len < minLen) return 'EINVAL';
        break;
      case 0:
      case 1:
      case 6: // NOP, JMP, AUTO
        break;
      default:
        return 'EINVAL';
    }
    if (code !== 0) {
      if (no < minLen || no > len + 4 || no & 3) return 'EINVAL';
      if (no < len && !validCc(bc, len - no)) return 'EINVAL';
    }
    if (yes < minLen || yes > len + 4 || yes & 3) return 'EINVAL';
    at += yes;
    len -= yes;
  }
  return len === 0 ? 0 : 'EINVAL';
}

/** bitstring_match(): the first `bits` bits of a (from aAt) and b equal? */
function bitstringMatch(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((a[aAt + byte] & mask) !== (b[bAt + byte] & mask)) return false;
  }
  return true;
}

/** inet_diag_bc_run(): does the program let the socket through? */
export function run(bc: Uint8Array, e: DiagEntry): boolean {
  let len = bc.length;
  let at = 0;
  while (len > 0) {
    const code = bc[at];
    let yes = true;
    switch (code) {
      case 0:
        break;
      case 1:
        yes = false;
        break;
      case 11:
        yes = e.sport === u16(bc, at + 6);
        break;
      case 2:
        yes = e.sport >= u16(bc, at + 6);
        break;
      case 3:
        yes = e.sport <= u16(bc, at + 6);
        break;
      case 12:
        yes = e.dport === u16(bc, at + 6);
        break;
      case 4:
        yes = e.dport >= u16(bc, at + 6);
        break;
      case 5:
        yes = e.dport <= u16(bc, at + 6);
        break;
      case 6:
        yes = !e.bindPortLock;
        break;
      case 7:
      case 8: {
        const family = bc[at + 4];
        const prefixLen = bc[at + 5];
        const port = i32(bc, at + 8);
        const src = code === 7;
        if (port !== -1 && port !== (src ? e.sport : e.dport)) {
          yes = false;
          break;
        }
        const addr = src ? e.saddr : e.daddr;
        if (family !== 0 && family !== e.family) {
          if (e.family === 10 && family === 2) {
            const mapped = addr.subarray(0, 10).every((x) => x === 0) && addr[10] === 0xff && addr[11] === 0xff;
            if (mapped && bitstringMatch(addr, 12, bc, at + 12, prefixLen)) break;
          }
          yes = false;
          break;
        }
        if (prefixLen === 0) break;
        if (bitstringMatch(addr, 0, bc, at + 12, prefixLen)) break;
        yes = false;
        break;
      }
      case 9:
        yes = e.ifindex === u32(bc, at + 4);
        break;
      case 10:
        yes = (e.mark & u32(bc, at + 8)) >>> 0 === u32(bc, at + 4);
        break;
      case 13:
        yes = e.cgroupId === u64(bc, at + 4);
        break;
      default:
        throw new Error(`op ${code} at ${at}: the audit would have refused it`);
    }
    const step = yes ? bc[at + 1] : u16(bc, at + 2);
    len -= step;
    at += step;
  }
  return len === 0;
}
