/**
 * The processes holding the few sockets the doctor's findings are about. A full /proc walk (`ls -p`) reads the
 * link of every descriptor of every process: most of the doctor's cost on a busy host, to name a handful of
 * culprits. This walk asks for given socket inodes only: it first runs the checks with a recorder that notes
 * which inodes they want a holder for, then walks the processes of the diagnosed network namespace first (one
 * readlink of /proc/<pid>/ns/net each), then the others, and stops as soon as every wanted socket has a holder.
 * A socket shared by several processes is then named after the first one found.
 */
import { readlinkSync } from 'node:fs';
import { FdWalker, processEntries, SocketHolders, type HolderSink, type WalkLibc } from '../procfs/processes.js';

/** What the checks ask of a holder index (SocketHolders, or the recorder). */
export type HolderIndex = Pick<SocketHolders, 'has' | 'holders'>;

/** Answers "no holder" and remembers every inode it was asked about. */
export class WantedInodes implements HolderIndex {
  readonly inodes = new Set<number>();

  has(inode: number): boolean {
    this.inodes.add(inode);
    return false;
  }

  holders(): never[] {
    return [];
  }
}

/** A sink keeping the wanted inodes only, counting how many have a holder. */
class WantedSink implements HolderSink {
  found = new Set<number>();

  constructor(
    readonly index: SocketHolders,
    private readonly wanted: Set<number>,
  ) {}

  add(inode: number, pid: number, fd: number): void {
    if (!this.wanted.has(inode)) return;
    this.index.add(inode, pid, fd);
    this.found.add(inode);
  }

  get deniedPids() {
    return this.index.deniedPids;
  }
  set deniedPids(n: number) {
    this.index.deniedPids = n;
  }
  get vanishedPids() {
    return this.index.vanishedPids;
  }
  set vanishedPids(n: number) {
    this.index.vanishedPids = n;
  }
  get processes() {
    return this.index.processes;
  }
  set processes(n: number) {
    this.index.processes = n;
  }
}

async function loadWalkLibc(): Promise<WalkLibc | undefined> {
  try {
    return await (await import('../sys/libc.js')).loadLibc();
  } catch {
    return undefined; // koffi unavailable: node:fs
  }
}

/** The holders of `wanted`, looking first at the processes whose network namespace is `netns` ("net:[…]"). */
export async function holdersOf(wanted: Set<number>, netns: string, procRoot = '/proc'): Promise<SocketHolders> {
  const index = new SocketHolders(procRoot);
  const pids = processEntries(procRoot);
  if (!pids) {
    index.deniedPids++;
    return index;
  }
  const sink = new WantedSink(index, wanted);
  const walker = new FdWalker(procRoot, await loadWalkLibc());
  const inNetns = (pid: string) => {
    try {
      return readlinkSync(`${procRoot}/${pid}/ns/net`) === netns;
    } catch {
      return false;
    }
  };
  const first = pids.filter(inNetns);
  const firstSet = new Set(first);
  for (const pid of [...first, ...pids.filter((p) => !firstSet.has(p))]) {
    if (sink.found.size === wanted.size) break;
    walker.walk(pid, sink);
  }
  return index;
}
