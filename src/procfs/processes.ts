/**
 * Which processes hold which sockets (-p): one walk of /proc/<pid>/fd per run, socket inode → every holder
 * {pid, comm, fd}. A socket held by several processes (fork, SCM_RIGHTS) lists them all. Processes that exit
 * mid-walk and directories we may not read give a partial index and a note, never an error.
 *
 * Holders are kept in parallel typed arrays chained per inode (no object per fd): a host with 150k sockets has
 * 150k fds to remember.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Libc } from '../sys/libc.js';

export interface SocketHolder {
  pid: number;
  comm: string;
  fd: number;
}

export class SocketHolders {
  private pid = new Int32Array(1024);
  private fd = new Int32Array(1024);
  private next = new Int32Array(1024);
  private count = 0;
  // inode → its most recent holder row, open addressing in typed arrays (linear probing, at most half full):
  // building it is the part of the walk that runs on the main thread after the workers answer, and a Map
  // of 150k inodes cost ~4× as much
  private slotInode = new Float64Array(1024);
  private slotHead = new Int32Array(1024).fill(-1);
  private inodeCount = 0;
  private readonly comms = new Map<number, string>();
  /** pids whose fd directory could not be read (permissions), and pids that vanished mid-walk */
  deniedPids = 0;
  vanishedPids = 0;
  processes = 0;

  constructor(private readonly procRoot = '/proc') {}

  add(inode: number, pid: number, fd: number): void {
    if (this.count === this.pid.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.pid = grow(this.pid);
      this.fd = grow(this.fd);
      this.next = grow(this.next);
    }
    const i = this.count++;
    this.pid[i] = pid;
    this.fd[i] = fd;
    let slot = this.slot(inode);
    if (this.slotHead[slot] < 0) {
      if (2 * ++this.inodeCount > this.slotHead.length) {
        this.rehash();
        slot = this.slot(inode);
      }
      this.slotInode[slot] = inode;
    }
    this.next[i] = this.slotHead[slot];
    this.slotHead[slot] = i;
  }

  /** The slot holding inode, or the empty slot where it would go. */
  private slot(inode: number): number {
    const mask = this.slotHead.length - 1;
    // Fibonacci hashing of the low 32 bits; socket inodes are mostly consecutive numbers
    let s = (Math.imul(inode | 0, 0x9e3779b1) >>> 0) & mask;
    while (this.slotHead[s] >= 0 && this.slotInode[s] !== inode) s = (s + 1) & mask;
    return s;
  }

  private rehash(): void {
    const inodes = this.slotInode;
    const heads = this.slotHead;
    this.slotInode = new Float64Array(heads.length * 2);
    this.slotHead = new Int32Array(heads.length * 2).fill(-1);
    for (let s = 0; s < heads.length; s++) {
      if (heads[s] < 0) continue;
      const to = this.slot(inodes[s]);
      this.slotInode[to] = inodes[s];
      this.slotHead[to] = heads[s];
    }
  }

  /** The most recent holder row of inode, or -1. */
  private head(inode: number): number {
    return this.slotHead[this.slot(inode)];
  }

  /** Every holder of a socket inode, ordered by pid then fd; empty when none was seen. */
  holders(inode: number): SocketHolder[] {
    const out: SocketHolder[] = [];
    for (let i = this.head(inode); i >= 0; i = this.next[i]) {
      out.push({ pid: this.pid[i], comm: this.comm(this.pid[i]), fd: this.fd[i] });
    }
    return out.sort((a, b) => a.pid - b.pid || a.fd - b.fd);
  }

  /**
   * JSON.stringify(this.holders(inode)), written without the objects (ls --format ndjson|json -p): the same
   * order, each comm escaped once per pid.
   */
  holdersJson(inode: number): string {
    const head = this.head(inode);
    if (head < 0) return '[]';
    if (this.next[head] < 0) return `[{"pid":${this.pid[head]},"comm":${this.commJson(this.pid[head])},"fd":${this.fd[head]}}]`;
    const at: number[] = [];
    for (let i = head; i >= 0; i = this.next[i]) at.push(i);
    at.sort((a, b) => this.pid[a] - this.pid[b] || this.fd[a] - this.fd[b]);
    return `[${at.map((i) => `{"pid":${this.pid[i]},"comm":${this.commJson(this.pid[i])},"fd":${this.fd[i]}}`).join(',')}]`;
  }

  /** ss's `users:(("comm",pid=1,fd=3),...)` for the table, or '' when no holder was seen. */
  ssUsers(inode: number): string {
    const head = this.head(inode);
    if (head < 0) return '';
    if (this.next[head] < 0) return `users:(("${this.comm(this.pid[head])}",pid=${this.pid[head]},fd=${this.fd[head]}))`;
    return `users:(${this.holders(inode)
      .map((p) => `("${p.comm}",pid=${p.pid},fd=${p.fd})`)
      .join(',')})`;
  }

  private readonly commJsons = new Map<number, string>();

  /** JSON.stringify(this.comm(pid)), cached. */
  private commJson(pid: number): string {
    let j = this.commJsons.get(pid);
    if (j === undefined) {
      j = JSON.stringify(this.comm(pid));
      this.commJsons.set(pid, j);
    }
    return j;
  }

  /** Every socket inode held by some process, in no particular order. */
  *inodes(): IterableIterator<number> {
    for (let s = 0; s < this.slotHead.length; s++) if (this.slotHead[s] >= 0) yield this.slotInode[s];
  }

  has(inode: number): boolean {
    return this.head(inode) >= 0;
  }

  get size(): number {
    return this.inodeCount;
  }

  /** /proc/<pid>/comm, read once per pid, only for pids that hold a socket someone asked about. */
  comm(pid: number): string {
    let c = this.comms.get(pid);
    if (c === undefined) {
      try {
        c = readFileSync(`${this.procRoot}/${pid}/comm`, 'utf8').replace(/\n$/, '');
      } catch {
        c = '';
      }
      this.comms.set(pid, c);
    }
    return c;
  }

  /** One line for stderr when the index is partial, else undefined. */
  note(): string | undefined {
    const parts: string[] = [];
    if (this.deniedPids > 0) parts.push(`${this.deniedPids} processes could not be inspected (permission denied: run as root for all)`);
    if (this.vanishedPids > 0) parts.push(`${this.vanishedPids} exited during the walk`);
    return parts.length ? `process attribution is partial: ${parts.join('; ')}` : undefined;
  }
}

/** Where a walk puts what it finds: a SocketHolders, or a worker's HolderColumns. */
export interface HolderSink {
  add(inode: number, pid: number, fd: number): void;
  deniedPids: number;
  vanishedPids: number;
  processes: number;
}

/** The calls of src/sys/libc.ts the walk uses (openat-free: one open per process, one readlinkat per fd). */
export type WalkLibc = Pick<Libc, 'openDirectory' | 'getdents' | 'readlinkAt' | 'close'>;

const SOCKET_PREFIX = 'socket:[';
const ENOENT = 2;

/** The inode of a link "socket:[<digits>]" (fs/sockfs's sockfs_dname), else -1. */
function socketInode(target: string): number {
  const end = target.length - 1;
  if (end <= SOCKET_PREFIX.length || !target.startsWith(SOCKET_PREFIX) || target.charCodeAt(end) !== 0x5d) return -1;
  let inode = 0;
  for (let j = SOCKET_PREFIX.length; j < end; j++) {
    const d = target.charCodeAt(j);
    if (d < 48 || d > 57) return -1;
    inode = inode * 10 + d - 48;
  }
  return inode;
}

/**
 * Walks one process's fd directory into a sink. With libc (koffi): one open of /proc/<pid>/fd, getdents64 into a
 * reused buffer, and readlinkat(dirfd, name) per fd, parsed from bytes: no path lookup of /proc/<pid>/fd per
 * fd and no string per fd (about a quarter less kernel time than readlink of the full path, and a third of
 * the user time). Without libc (koffi unavailable): readdirSync and readlinkSync.
 */
export class FdWalker {
  private readonly dents: Uint8Array;
  private readonly name = new Uint8Array(32);
  private readonly link = new Uint8Array(64); // "socket:[" + at most 20 digits + "]": anything longer is no socket

  constructor(
    private readonly procRoot = '/proc',
    private readonly libc?: WalkLibc,
  ) {
    this.dents = new Uint8Array(libc ? 64 * 1024 : 0);
  }

  /** `pid` is the /proc entry's name (digits). */
  walk(pid: string, sink: HolderSink): void {
    if (this.libc) this.walkLibc(this.libc, pid, sink);
    else this.walkFs(pid, sink);
  }

  private walkFs(name: string, sink: HolderSink): void {
    const pid = Number(name);
    const dir = `${this.procRoot}/${name}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') sink.vanishedPids++;
      else sink.deniedPids++;
      return;
    }
    sink.processes++;
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${dir}/${fd}`);
      } catch {
        continue; // the fd was closed, or the process exited, between readdir and readlink
      }
      const inode = socketInode(target);
      if (inode >= 0) sink.add(inode, pid, Number(fd));
    }
  }

  private walkLibc(libc: WalkLibc, name: string, sink: HolderSink): void {
    const pid = Number(name);
    const dfd = libc.openDirectory(`${this.procRoot}/${name}/fd`);
    if (dfd < 0) {
      if (dfd === -ENOENT) sink.vanishedPids++;
      else sink.deniedPids++;
      return;
    }
    const { dents, name: fdName, link } = this;
    try {
      for (let first = true; ; first = false) {
        const n = libc.getdents(dfd, dents);
        if (n < 0 && first) {
          if (n === -ENOENT) sink.vanishedPids++;
          else sink.deniedPids++;
          return;
        }
        if (first) sink.processes++;
        if (n <= 0) return; // the end, or the process exited while we read: what was read stays
        // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        for (let at = 0; at < n; at += dents[at + 16] | (dents[at + 17] << 8)) {
          let fd = 0;
          let i = at + 19;
          let c = dents[i];
          if (c < 48 || c > 57) continue; // "." and ".."
          let len = 0;
          for (; c !== 0 && len < fdName.length - 1; c = dents[++i]) {
            fd = fd * 10 + c - 48;
            fdName[len++] = c;
          }
          fdName[len] = 0;
          const k = libc.readlinkAt(dfd, fdName, link);
          // "socket:[" (0x73 0x6f 0x63 0x6b 0x65 0x74 0x3a 0x5b) then digits then "]"
          if (
            k < 10 ||
            link[0] !== 0x73 ||
            link[6] !== 0x3a ||
            link[7] !== 0x5b ||
            link[1] !== 0x6f ||
            link[2] !== 0x63 ||
            link[3] !== 0x6b ||
            link[4] !== 0x65 ||
            link[5] !== 0x74 ||
            link[k - 1] !== 0x5d
          )
            continue;
          let inode = 0;
          let j = 8;
          for (; j < k - 1; j++) {
            const d = link[j];
            if (d < 48 || d > 57) break;
            inode = inode * 10 + d - 48;
          }
          if (j === k - 1) sink.add(inode, pid, fd);
        }
      }
    } finally {
      libc.close(dfd);
    }
  }
}

/** The entries of /proc that are processes (digits), in readdir order; undefined if /proc cannot be read. */
export function processEntries(procRoot = '/proc'): string[] | undefined {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return undefined;
  }
  return names.filter((name) => {
    const c0 = name.charCodeAt(0);
    return c0 >= 48 && c0 <= 57;
  });
}

/**
 * Walk /proc/<pid>/fd for every process once, on this thread. With `libc` (src/sys/libc.ts, loaded), through
 * readlinkat; without, through node:fs (what a caller without koffi, or that must stay synchronous, gets).
 */
export function indexSocketHolders(procRoot = '/proc', libc?: WalkLibc): SocketHolders {
  const index = new SocketHolders(procRoot);
  const pids = processEntries(procRoot);
  if (!pids) {
    index.deniedPids++;
    return index;
  }
  const walker = new FdWalker(procRoot, libc);
  for (const pid of pids) walker.walk(pid, index);
  return index;
}

/** /proc/<pid>/exe and cmdline (for ss2's usr_ctxt), best effort. */
export function processCommand(pid: number, procRoot = '/proc'): { cmd: string; fullCmd: string[] } {
  let cmd = '';
  let fullCmd: string[] = [];
  try {
    cmd = readlinkSync(`${procRoot}/${pid}/exe`);
  } catch {
    /* kernel threads, other users' processes */
  }
  try {
    fullCmd = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((x, i, a) => x !== '' || i < a.length - 1);
  } catch {
    /* exited */
  }
  return { cmd, fullCmd };
}

/** The owner of a process, from /proc/<pid>/status Uid (real uid). */
export function processUid(pid: number, procRoot = '/proc'): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`${procRoot}/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
