/**
 * The processes holding the few sockets the doctor's findings are about. A full /proc walk (`ls -p`) reads the
 * link of every descriptor of every process: most of the doctor's cost on a busy host, to name a handful of
 * culprits. This walk asks for given socket inodes only: it first runs the checks with a recorder that notes
 * which inodes they want a holder for, then walks the processes of the diagnosed network namespace first (one
 * readlink of /proc/<pid>/ns/net each), then the others, and stops as soon as every wanted socket has a holder.
 * A socket shared by several processes is then named after the first one found.
 */
import { readlinkSync, statSync } from 'node:fs';
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

/**
 * `pids` with the fewest open descriptors first (Linux >= 6.2 gives their count as the size of /proc/<pid>/fd;
 * 0 before, which keeps the order). Reading a process's descriptors costs one readlink each (~3 µs of kernel
 * time), and the walk stops once every wanted socket has a holder: with nothing known about which process holds
 * them, visiting the cheapest processes first spends the least before finding them (and when the holder is the
 * largest process, the walk costs what a walk in any order would).
 */
function byDescriptors(pids: string[], procRoot: string): string[] {
  const size = new Map<string, number>();
  for (const pid of pids) {
    try {
      size.set(pid, statSync(`${procRoot}/${pid}/fd`).size);
    } catch {
      size.set(pid, 0); // gone, or not ours to look at: the walk will say so
    }
  }
  return pids.sort((x, y) => size.get(x)! - size.get(y)!);
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
  const first = byDescriptors(pids.filter(inNetns), procRoot);
  const firstSet = new Set(first);
  for (const pid of [
    ...first,
    ...byDescriptors(
      pids.filter((p) => !firstSet.has(p)),
      procRoot,
    ),
  ]) {
    if (sink.found.size === wanted.size) break;
    walker.walk(pid, sink);
  }
  return index;
}
