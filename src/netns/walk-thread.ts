/**
 * One thread's part of a namespace walk (in a worker thread, walk-worker.ts; or on the calling thread of a
 * one-shot command, see NetnsWalker's inProcess). For each namespace it is given: open its file, check the inode is
 * the one discovered, setns() into it (this thread only), open a NETLINK_SOCK_DIAG socket there, read the
 * namespace's counters from /proc/thread-self/net, take the census / snapshot / gather the request asks for, close
 * the socket and setns() back home. setns happens here, never on the event-loop thread of the agent.
 *
 * With WalkRequest.keep (the agent), the socket is kept for the next walk: a socket stays bound to the namespace
 * it was made in, so the next walk dumps over it and reads /proc/<pid>/net of a process still in the namespace,
 * with no open, no setns and no new socket. A kept socket holds its namespace alive: it is closed at the end of
 * the first walk that does not read the namespace (it vanished, or is no longer selected).
 *
 * A namespace whose file is gone (its last process exited) or is another namespace now (the pid was reused) is
 * "vanished"; one this thread may not enter (EPERM without CAP_SYS_ADMIN, EACCES without CAP_SYS_PTRACE) is
 * "denied". Neither stops the walk.
 */
import { DoctorHistory } from '../doctor/history.js';
import type { HostFactName } from '../collectors/collector.js';
import { closeSync, fstatSync, openSync, readlinkSync } from 'node:fs';
import { readProcText } from '../procfs/read.js';
import { gather, type GatherPlan, type HostFactsReader, prepareGather } from '../gather/gather.js';
import { localPortRange, readHostFacts } from '../gather/host-facts.js';
import type { HostFacts } from '../collectors/collector.js';
import { toWire, type WireMetric } from '../collectors/registry.js';
import { PrometheusWriter } from '../outputs/metrics/prometheus.js';
import type { Metric } from '../model/metric.js';
import { newReceiveBuffer, type ReceiveBuffer } from '../snapshot/dump.js';
import { DiagSession, takeCensus, takeSnapshot } from '../snapshot/snapshot.js';
import { EstablishedMemo } from '../snapshot/established.js';
import { SocketTable } from '../snapshot/table.js';
import { errnoName } from '../sys/errno.js';
import { CLONE_NEWNET, loadLibc, type Libc } from '../sys/libc.js';
import { isSockscopeError } from '../errors.js';
import { keepNetnsLifecycle, leaveNetnsLifecycle, lifecycleInNetns } from '../lifecycle/host.js';
import type { SockstatFiles } from '../snapshot/sockstat.js';
import { CounterFiles, NETNS_SCHEMA, netnsCounters, tcpOpens } from './counters.js';
import type { NetnsOutcome, WalkReply, WalkRequest } from './walk.js';

let libc: Libc | undefined;
let home: number | undefined;
/** one receive buffer for every namespace's session */
let rb: ReceiveBuffer | undefined;
/** gather jobs: one table filled by every namespace's snapshot in turn (each is done with before the next) */
let gatherTable: SocketTable | undefined;
/** WalkRequest.keep: each namespace's session (by inode), bound to it, kept between walks */
const kept = new Map<number, DiagSession>();
/**
 * WalkRequest.keep: each kept namespace's ephemeral port range, read when this thread last entered it. A sysctl
 * under /proc/sys/net is the reading thread's namespace's, and a walk over a kept socket does not enter.
 */
const keptPortRange = new Map<number, HostFacts['localPortRange']>();
/** WalkRequest.keep: each kept namespace's counter files, open (read again from the start each walk) */
const keptFiles = new Map<number, CounterFiles>();
/** the Prometheus writer of the last walk that rendered, for the next (see PrometheusWriter.reset) */
let idleWriter: PrometheusWriter | undefined;
/** the doctor collector's previous sample per kept namespace (its window is the interval since this namespace's last gather) */
const keptDoctorHistory = new Map<number, DoctorHistory>();

/** A /proc/net file of the namespace: dir is /proc/thread-self (the thread entered it) or /proc/<pid> (a process in it). */
const readProc = (dir: string, name: string): string | undefined => readProcText(`${dir}/net/${name}`);

/** Whether pid is (still) in the namespace: its /proc/<pid>/ns/net names the inode. */
function pidInNamespace(pid: number, inode: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${inode}]`;
  } catch {
    return false;
  }
}

/** Close the kept sessions of namespaces not in `keep` (all without it). */
export function dropKeptSessions(keep?: ReadonlySet<number>): void {
  for (const [inode, s] of kept) {
    if (keep?.has(inode)) continue;
    forgetKept(inode);
    s.close();
  }
}

/** Forget what is kept for a namespace beside its socket (the caller closes the socket). */
function forgetKept(inode: number): void {
  kept.delete(inode);
  keptPortRange.delete(inode);
  keptFiles.get(inode)?.close();
  keptFiles.delete(inode);
  keptDoctorHistory.delete(inode);
}

/**
 * /proc/net as this thread sees it: /proc/net is the thread-group leader's namespace, /proc/thread-self/net
 * the entered one, /proc/<pid>/net a process's in it (the table's size estimate, the TIME_WAIT counter, a
 * protocol's /proc fallback). `files`: the namespace's kept files, its sockstat and sockstat6 read through them.
 */
const inNamespace = <T extends { procRoot?: string; sockstatFiles?: SockstatFiles; tcpOpens?: () => readonly [number, number] | undefined }>(
  o: T,
  dir: string,
  files?: CounterFiles,
  opens?: () => readonly [number, number] | undefined,
): T => (o.procRoot === undefined ? { ...o, procRoot: dir, ...(files ? { sockstatFiles: files.sockstat, tcpOpens: opens } : {}) } : o);

/** errno name of a failed fs or libc call */
function errnoOf(e: unknown): string {
  const x = e as { code?: string; facts?: { errno?: number } };
  if (isSockscopeError(e) && typeof x.facts?.errno === 'number') return errnoName(x.facts.errno);
  return typeof x.code === 'string' ? x.code : 'error';
}

/** What a request's gathers share: the rendering, the series budget, the plan worked out from the config. */
interface GatherSink {
  writer?: PrometheusWriter;
  budget: number;
  dropped: number;
  /** prepareGather of the job's config, and of the counters-only one (made on first use) */
  plan?: GatherPlan;
  countersOnlyPlan?: GatherPlan;
}

/** Whether a prepared gather's collectors read a host fact (a plan that failed reads none). */
const wantsFact = (p: GatherPlan, fact: HostFactName): boolean => !('error' in p) && p.plan.facts.includes(fact);

async function walkOne(req: WalkRequest, i: number, transfer: ArrayBuffer[], sink: GatherSink): Promise<NetnsOutcome> {
  const target = req.targets[i];
  const base = { inode: target.inode };
  let entered = false;
  // a socket kept from the last walk and a process to read /proc/<pid>/net from: nothing to enter
  let session = req.keep && !target.own ? kept.get(target.inode) : undefined;
  let dir = '/proc/thread-self';
  // the doctor's facts (its /proc/net counters and /proc/sys/net sysctls, read through /proc/thread-self) are the
  // reading thread's namespace's: a gather that wants them enters, kept socket or not
  const entersForFacts = req.job.kind === 'gather' && !target.countersOnly && wantsFact((sink.plan ??= prepareGather(req.job.config)), 'doctorNamespace');
  if (session && !entersForFacts && target.pid !== undefined && pidInNamespace(target.pid, target.inode)) dir = `/proc/${target.pid}`;
  else if (!target.own) {
    let fd: number;
    try {
      fd = openSync(target.path, 'r');
    } catch (e) {
      const errno = errnoOf(e);
      if (errno === 'ENOENT' || errno === 'ESRCH') return { ...base, status: 'vanished', reason: `${target.path} is gone (${errno})` };
      return { ...base, status: 'denied', reason: `open ${target.path}: ${errno}` };
    }
    try {
      const ino = fstatSync(fd).ino;
      if (ino !== target.inode) return { ...base, status: 'vanished', reason: `${target.path} is now namespace ${ino}` };
      try {
        libc!.setns(fd, CLONE_NEWNET);
      } catch (e) {
        return { ...base, status: 'denied', reason: `setns: ${errnoOf(e)}` };
      }
      entered = true;
    } finally {
      closeSync(fd);
    }
  }
  const keep = !!req.keep && !target.own;
  try {
    if (!session) {
      session = await DiagSession.open(undefined, (rb ??= newReceiveBuffer()));
      if (keep) {
        kept.set(target.inode, session);
        // its ESTABLISHED sockets on listening ports, handed out again while the counters say none came or went
        session.memo = new EstablishedMemo();
      }
    }
    const s = session;
    if (keep && entered) keptPortRange.set(target.inode, localPortRange());
    let files = keep ? keptFiles.get(target.inode) : undefined;
    if (keep && !files) keptFiles.set(target.inode, (files = CounterFiles.open(dir)));
    const texts = req.counters
      ? files
        ? files.read()
        : { netstat: readProc(dir, 'netstat'), snmp: readProc(dir, 'snmp'), sockstat: readProc(dir, 'sockstat') }
      : undefined;
    const counters = texts ? netnsCounters(texts) : undefined;
    // the opening counts before this gather's dumps: the snmp just read, else read now
    const kf = files;
    const opens = kf ? () => tcpOpens(texts ? texts.snmp : kf.snmp()) : undefined;
    if (req.job.kind === 'census') {
      const { counts, ...meta } = await takeCensus(inNamespace({ ...req.job.options, skipEmptyUdp: true }, dir, files, opens), s);
      const buf = counts.counts.buffer as ArrayBuffer;
      transfer.push(buf);
      return { ...base, status: 'ok', counters, census: { counts: buf, meta } };
    }
    if (req.job.kind === 'snapshot') {
      const { table, ...meta } = await takeSnapshot(inNamespace(req.job.options, dir, files, opens), s);
      const { buffers, transfer: t } = table.toBuffers();
      transfer.push(...t);
      return { ...base, status: 'ok', counters, snapshot: { buffers, meta } };
    }
    const job = req.job;
    const want = job.metrics !== false;
    const metrics: WireMetric[] = [];
    const tags = { ...job.config.tags, ...target.tags };
    // another namespace's labels, rendered by the writer: its gather's metrics carry them implicitly (the writer's
    // context), so they are not copied into each metric; only metrics sent back get them
    const implied = !target.own && sink.writer !== undefined;
    const emit = (m: Metric) => {
      // the namespace's label is the walk's (its name), also on a point whose subject is a namespace (the doctor's
      // findings name theirs "net:[inode]", which wins over config tags elsewhere)
      const label = target.tags?.netns;
      if (label !== undefined && m.tags.netns !== undefined && m.tags.netns !== label) m.tags = { ...m.tags, netns: label };
      if (!target.own && sink.budget-- <= 0) {
        sink.dropped++;
        return;
      }
      sink.writer?.write(m);
      if (want) metrics.push(toWire(implied ? { ...m, tags: { ...tags, ...m.tags } } : m));
    };
    const gatherTags = implied ? undefined : tags;
    const config = target.countersOnly ? { ...job.config, measurements: [], tags: gatherTags } : { ...job.config, tags: gatherTags };
    // the namespace's labels begin each of its metrics: rendered once per (namespace, labels), kept across walks
    if (!target.own) sink.writer?.context(target.inode, tags, implied);
    // the collectors and the snapshot they need: the same for every namespace of the walk (only the tags differ)
    const plan = target.countersOnly ? (sink.countersOnlyPlan ??= prepareGather(config)) : (sink.plan ??= prepareGather(config));
    // the agent's lifecycle collector: this namespace's own subscription, kept between gathers (walkOnThisThread drops it)
    if (job.lifecycle && !target.own)
      await lifecycleInNetns(target.inode, target.path, config.measurements.includes('lifecycle') ? config.lifecycle : undefined);
    // not entered (a kept socket): the port range read when the thread last entered, not its own namespace's
    const range = keep ? keptPortRange.get(target.inode) : undefined;
    // the doctor collector's previous sample: this namespace's own (kept with its socket), not the thread's
    let history = keep ? keptDoctorHistory.get(target.inode) : undefined;
    if (keep && !history && wantsFact(plan, 'doctorHistory')) keptDoctorHistory.set(target.inode, (history = new DoctorHistory()));
    const readFacts: HostFactsReader | undefined = keep
      ? (wanted) => ({
          ...readHostFacts(wanted.filter((f) => f !== 'localPortRange' && f !== 'doctorHistory')),
          localPortRange: wanted.includes('localPortRange') ? range : undefined,
          doctorHistory: wanted.includes('doctorHistory') ? history : undefined,
        })
      : undefined;
    const report = await gather(
      config,
      {
        snapshot: (o) => takeSnapshot(inNamespace({ ...o, skipEmptyUdp: true }, dir, files, opens), s, (gatherTable ??= new SocketTable(4096, 0))),
        census: (o) => takeCensus(inNamespace({ ...o, skipEmptyUdp: true }, dir, files, opens), s),
      },
      emit,
      plan,
      readFacts,
    );
    if (counters) emit({ schema: NETNS_SCHEMA, tags, fields: counters as Record<string, number>, time: Date.now() });
    if (target.own && job.hostPods) {
      // hostNetwork pods' sockets, by their cgroup: labeled series on top of the host's (counted in the budget)
      const { gatherHostPods } = await import('./host-pods.js');
      await gatherHostPods(job.config, s, dir, job.hostPods, (m) => {
        if (sink.budget-- <= 0) {
          sink.dropped++;
          return;
        }
        sink.writer?.write(m);
        if (want) metrics.push(toWire(m));
      });
    }
    // the report goes back for the own namespace only (NetnsReport.host), and the counters not at all (their metric
    // carries them): another 100 namespaces' would be cloned to the agent's main thread each gather to be dropped
    return { ...base, status: 'ok', gather: { ...(target.own ? { report } : {}), ...(want ? { metrics } : {}) } };
  } catch (e) {
    // a kept socket that failed is not trusted again
    if (keep) {
      forgetKept(target.inode);
      session?.close();
      session = undefined;
    }
    return { ...base, status: 'failed', reason: (e as Error)?.message ?? String(e) };
  } finally {
    sink.writer?.context(undefined);
    leaveNetnsLifecycle();
    if (!keep) session?.close();
    // back home before the next namespace; a thread that cannot return must not go on
    if (entered) libc!.setns(home!, CLONE_NEWNET);
  }
}

/**
 * Walk a request's namespaces on the calling thread, which enters each and comes back. Throws (and the thread
 * must not be used again) only when it cannot return to its own namespace or libc cannot be loaded.
 */
export async function walkOnThisThread(req: WalkRequest, transfer: ArrayBuffer[]): Promise<Extract<WalkReply, { ok: true }>> {
  libc ??= await loadLibc();
  home ??= openSync('/proc/thread-self/ns/net', 'r');
  const results: NetnsOutcome[] = [];
  const job = req.job;
  // the thread's writer, kept from walk to walk (its buffers reused) unless another walk of this thread has it
  const writer = job.kind === 'gather' && job.exposition ? (idleWriter ?? new PrometheusWriter()) : undefined;
  if (writer === idleWriter) idleWriter = undefined;
  writer?.reset();
  const sink: GatherSink = {
    writer,
    budget: job.kind === 'gather' ? (job.maxSeriesPerThread ?? Infinity) : Infinity,
    dropped: 0,
  };
  for (let i = 0; i < req.targets.length; i++) results.push(await walkOne(req, i, transfer, sink));
  // the sockets of namespaces that vanished or are no longer walked are closed (a kept socket keeps its namespace alive)
  if (req.keep) dropKeptSessions(new Set(req.targets.filter((t, i) => !t.own && results[i].status === 'ok').map((t) => t.inode)));
  // namespaces that vanished or are no longer walked lose their destroy-event subscription
  if (job.kind === 'gather' && job.lifecycle) {
    await keepNetnsLifecycle(new Set(req.targets.filter((t, i) => !t.own && results[i].status !== 'vanished').map((t) => t.inode)));
  }
  const exposition = writer?.exposition(req.room);
  if (exposition) transfer.push(exposition.bytes.buffer as ArrayBuffer);
  if (writer) idleWriter = writer;
  return { id: req.id, ok: true, results, exposition, seriesDropped: sink.dropped };
}
