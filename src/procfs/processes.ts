/**
 * Which processes hold which sockets (-p): one walk of /proc/<pid>/fd per run, socket inode → every holder
 * {pid, comm, fd}. A socket held by several processes (fork, SCM_RIGHTS) lists them all. Processes that exit
 * mid-walk and directories we may not read give a partial index and a note, never an error.
 *
 * Holders are kept in parallel typed arrays chained per inode (no object per fd): a host with 150k sockets has
 * 150k fds to remember.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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
  private readonly first = new Map<number, number>();
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
    this.next[i] = this.first.get(inode) ?? -1;
    this.first.set(inode, i);
  }

  /** Every holder of a socket inode, ordered by pid then fd; empty when none was seen. */
  holders(inode: number): SocketHolder[] {
    const out: SocketHolder[] = [];
    for (let i = this.first.get(inode) ?? -1; i >= 0; i = this.next[i]) {
      out.push({ pid: this.pid[i], comm: this.comm(this.pid[i]), fd: this.fd[i] });
    }
    return out.sort((a, b) => a.pid - b.pid || a.fd - b.fd);
  }

  /**
   * JSON.stringify(this.holders(inode)), written without the objects (ls --format ndjson|json -p): the same
   * order, each comm escaped once per pid.
   */
  holdersJson(inode: number): string {
    const head = this.first.get(inode);
    if (head === undefined) return '[]';
    if (this.next[head] < 0) return `[{"pid":${this.pid[head]},"comm":${this.commJson(this.pid[head])},"fd":${this.fd[head]}}]`;
    const at: number[] = [];
    for (let i = head; i >= 0; i = this.next[i]) at.push(i);
    at.sort((a, b) => this.pid[a] - this.pid[b] || this.fd[a] - this.fd[b]);
    return `[${at.map((i) => `{"pid":${this.pid[i]},"comm":${this.commJson(this.pid[i])},"fd":${this.fd[i]}}`).join(',')}]`;
  }

  /** ss's `users:(("comm",pid=1,fd=3),...)` for the table, or '' when no holder was seen. */
  ssUsers(inode: number): string {
    const head = this.first.get(inode);
    if (head === undefined) return '';
    if (this.next[head] < 0) return `users:(("${this.comm(this.pid[head])}",pid=${this.pid[head]},fd=${this.fd[head]}))`;
    return `users:(${this.holders(inode).map((p) => `("${p.comm}",pid=${p.pid},fd=${p.fd})`).join(',')})`;
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

  has(inode: number): boolean {
    return this.first.has(inode);
  }

  get size(): number {
    return this.first.size;
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

const SOCKET_PREFIX = 'socket:[';

/** Walk /proc/<pid>/fd for every process once. */
export function indexSocketHolders(procRoot = '/proc'): SocketHolders {
  const index = new SocketHolders(procRoot);
  let pids: string[];
  try {
    pids = readdirSync(procRoot);
  } catch {
    index.deniedPids++;
    return index;
  }
  for (const name of pids) {
    const c0 = name.charCodeAt(0);
    if (c0 < 48 || c0 > 57) continue; // not a pid
    const pid = Number(name);
    const dir = `${procRoot}/${name}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') index.vanishedPids++;
      else index.deniedPids++;
      continue;
    }
    index.processes++;
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${dir}/${fd}`);
      } catch {
        continue; // the fd was closed, or the process exited, between readdir and readlink
      }
      if (!target.startsWith(SOCKET_PREFIX)) continue;
      const inode = Number(target.slice(SOCKET_PREFIX.length, -1));
      if (Number.isInteger(inode)) index.add(inode, pid, Number(fd));
    }
  }
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
    fullCmd = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0').filter((x, i, a) => x !== '' || i < a.length - 1);
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
