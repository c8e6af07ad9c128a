/**
 * sockscope bench, in-process side: run one library operation several times in this node process and print the
 * timings as one JSON line. bench/run.ts starts it inside the population's namespace:
 *
 *   nsenter --net=/proc/<holder>/ns/net node dist/bench/inproc.js --op census --strategy legacy --reps 5 --warmup 1
 *
 * Only the call is timed (performance.now() around it), with process.cpuUsage() around it for user/system CPU.
 * The first (warm-up) call also pays for loading libc through koffi; koffi's import is timed on its own first.
 *
 * Two modes. Batch (default): --warmup calls, --reps timed calls, one JSON line with everything. Serve (--serve,
 * what bench/run.ts uses): --warmup calls, then {"event":"ready",...}; each `run` line on stdin makes one timed
 * call answered by {"event":"sample",...}; `quit` (or the end of stdin) answers {"event":"done",...} and exits.
 * Serving lets the harness interleave this row's calls with other rows' runs while the process stays warm.
 *
 * Operations:
 *   census    takeCensus({ protocols: ['tcp'], tcpStrategy })
 *   snapshot  takeSnapshot({ protocols: ['tcp'], ext: FULL_EXT, tcpStrategy })
 *   rawdump   the TCP dump(s) the strategy sends, read through the library's session and framing loop, with a
 *             visitor that does nothing: kernel walk + recv through koffi + framing, no decode (--ext 0|full)
 *   summary   what `sockscope --json` does after start-up: takeSnapshot({ ext: 0, unixShow: 0 }) of every
 *             protocol, summarize(), JSON.stringify()
 *   ls        what `sockscope ls <--ls ARGS>` does after start-up, up to --stage (each stage includes the ones before
 *             it; the options, filter and code paths are the CLI's, see lsOperation):
 *               streamed formats (ndjson, json without -r):
 *                 dump     streamSnapshot with a batch callback that only counts (kernel dump, rows into the batch)
 *                 format   + SocketJsonWriter per socket into its byte buffer, dropped per batch
 *                 write    + the bytes written to /dev/null: all of `ls` but node start and imports
 *               table:
 *                 procs    -p's /proc/<pid>/fd walk (indexSocketHoldersParallel: worker threads, this one joining) alone
 *                 snapshot takeSnapshot alone (no -p)
 *                 format   procs and snapshot overlapped (ParallelHolderWalk: the walk's workers run while this
 *                          thread takes the snapshot, then it joins them, as in the CLI) + lsTableBytes (the
 *                          aligned text, made in chunks as the CLI makes it, not written)
 *                 write    + the text written to /dev/null: all of `ls` but node start and imports
 *                 stream   what the CLI does for a table of inet sockets without -p, -r, -K: streamSnapshot, each
 *                          batch's lines made (widths carried over) and written to /dev/null as it comes
 *             --read-ahead: the dumps received in a worker thread while this one decodes and formats
 *             (SnapshotOptions.readAheadFrom 0; the CLI gives it from 30000 sockets on), a new worker per call
 *             as in the CLI
 */
const startupMs = performance.now(); // since this process started: node bootstrap + this module's load
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    op: { type: 'string' },
    strategy: { type: 'string', default: 'legacy' },
    ext: { type: 'string', default: '0' },
    reps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    serve: { type: 'boolean', default: false },
    ls: { type: 'string', default: '' },
    stage: { type: 'string', default: 'write' },
    'read-ahead': { type: 'boolean', default: false },
  },
});

type Strategy = 'legacy' | 'v2';

interface Sample {
  ms: number;
  userMs: number;
  sysMs: number;
  /** minor page faults during the call (new memory touched: heap growth, table buffers) */
  minflt: number;
}

async function main(): Promise<void> {
  const op = values.op ?? '';
  const strategy = values.strategy as Strategy;
  if (!['census', 'snapshot', 'rawdump', 'summary', 'ls'].includes(op)) throw new Error(`--op must be census|snapshot|rawdump|summary|ls, got '${op}'`);
  if (strategy !== 'legacy' && strategy !== 'v2') throw new Error(`--strategy must be legacy|v2, got '${strategy}'`);
  const reps = Number(values.reps);
  const warmup = Number(values.warmup);

  let t = performance.now();
  await import('koffi');
  const importKoffiMs = performance.now() - t;
  t = performance.now();
  const lib = await import('../src/index.js');
  const { summarize } = await import('../src/summary/summary.js');
  const importSockscopeMs = performance.now() - t;
  const ext = values.ext === 'full' ? lib.FULL_EXT : Number(values.ext);
  const lsOnce = op === 'ls' ? await lsOperation(values.ls.split(/\s+/).filter(Boolean), values.stage) : undefined;

  let count = -1;
  const notes = new Set<string>();
  const once: () => Promise<void> = {
    census: async () => {
      const c = await lib.takeCensus({ protocols: ['tcp'], tcpStrategy: strategy });
      count = c.counts.total('tcp');
      for (const n of c.notes) notes.add(n);
      for (const s of c.sources) if (s.retries || s.interrupted || s.source !== 'netlink') notes.add(`tcp source ${s.source}, retries ${s.retries}`);
    },
    snapshot: async () => {
      const s = await lib.takeSnapshot({ protocols: ['tcp'], ext: lib.FULL_EXT, tcpStrategy: strategy });
      count = s.table.length;
      for (const n of s.notes) notes.add(n);
      for (const src of s.sources)
        if (src.retries || src.interrupted || src.source !== 'netlink') notes.add(`tcp source ${src.source}, retries ${src.retries}`);
    },
    rawdump: async () => {
      const session = await lib.DiagSession.open();
      try {
        let n = 0;
        const visit = () => {
          n++;
        };
        if (strategy === 'legacy') {
          const r = session.dump((seq) => lib.legacyTcpDumpRequest({ states: lib.ALL_STATES, ext }, seq), lib.TCPDIAG_GETSOCK, visit);
          if (r.errno) throw new Error(`legacy dump failed: errno ${r.errno}`);
        } else {
          for (const family of [lib.AF_INET, lib.AF_INET6]) {
            const r = session.dump(
              (seq) => lib.inetDumpRequest({ family, protocol: lib.IPPROTO_TCP, states: lib.ALL_STATES, ext }, seq),
              lib.SOCK_DIAG_BY_FAMILY,
              visit,
            );
            if (r.errno) throw new Error(`v2 dump failed: errno ${r.errno}`);
          }
        }
        count = n;
      } finally {
        session.close();
      }
    },
    summary: async () => {
      const s = await lib.takeSnapshot({ ext: 0, unixShow: 0 });
      const json = JSON.stringify(summarize(s, { top: 10 }), null, 2);
      count = s.sources.find((x) => x.protocol === 'tcp')?.sockets ?? -1;
      if (json.length === 0) throw new Error('empty summary');
    },
    ls: async () => {
      count = await lsOnce!();
    },
  }[op as 'census']!;

  const measure = async (): Promise<Sample> => {
    const faults = process.resourceUsage().minorPageFault;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await once();
    const ms = performance.now() - t0;
    const d = process.cpuUsage(cpu);
    return { ms, userMs: d.user / 1000, sysMs: d.system / 1000, minflt: process.resourceUsage().minorPageFault - faults };
  };
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const fix = (x: Sample) => ({ ms: round(x.ms), user_ms: round(x.userMs), sys_ms: round(x.sysMs), minflt: x.minflt });
  const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const warm: Sample[] = [];
  for (let i = 0; i < warmup; i++) warm.push(await measure());
  const loading = { startup_ms: round(startupMs), import_koffi_ms: round(importKoffiMs), import_sockscope_ms: round(importSockscopeMs) };

  if (values.serve) {
    emit({ event: 'ready', op, strategy, ext, ...loading, warmup: warm.map(fix), count });
    for await (const line of createInterface({ input: process.stdin })) {
      const cmd = line.trim();
      if (cmd === 'quit') break;
      if (cmd !== 'run') {
        emit({ event: 'error', message: `unknown command '${cmd}'` });
        continue;
      }
      emit({ event: 'sample', ...fix(await measure()), count });
    }
    emit({ event: 'done', maxrss_kb: process.resourceUsage().maxRSS, notes: [...notes] });
    return;
  }

  const runs: Sample[] = [];
  for (let i = 0; i < reps; i++) runs.push(await measure());
  emit({ op, strategy, ext, ...loading, warmup: warm.map(fix), runs: runs.map(fix), count, maxrss_kb: process.resourceUsage().maxRSS, notes: [...notes] });
}

/**
 * `sockscope ls ARGS` after start-up, up to `stage` (see the header). Returns a function making one call, which
 * returns the number of sockets listed. Imports happen here, before the timed calls (as the CLI's happen
 * before its work). The code path is src/cli/ls.ts's: planLs, compileFilter, then for the streamed formats
 * streamSnapshot + SocketJsonWriter, for the table takeSnapshot + lsTableBytes; with -p, the parallel walk,
 * finished before the stream (streamed) or started before the snapshot and finished after it (table). Only table and the
 * streamed json/ndjson without -r are modelled.
 */
async function lsOperation(args: string[], stage: string): Promise<() => Promise<number>> {
  const { planLs } = await import('../src/cli/ls.js');
  const { compileFilter, hasNetAdmin } = await import('../src/filter/index.js');
  const { streamSnapshot, takeSnapshot } = await import('../src/snapshot/snapshot.js');
  const { SocketJsonWriter } = await import('../src/outputs/listing/socket-ndjson.js');
  const { lsShowsNetid, lsTableBytes } = await import('../src/outputs/listing/ls-table.js');
  const { indexSocketHoldersParallel, ParallelHolderWalk } = await import('../src/procfs/holders-parallel.js');
  const { sysfsInterfaceNames } = await import('../src/util/net.js');
  const { openSync, writeSync } = await import('node:fs');
  const plan = planLs(args);
  if (plan === 'help' || plan.resolve || plan.summary || plan.format === 'ss2')
    throw new Error(`--op ls models table, json and ndjson listings, not '${args.join(' ')}'`);
  const filter = compileFilter(plan.filterWords, { defaultStates: plan.snapshot.states!, protocols: plan.snapshot.protocols, netAdmin: hasNetAdmin() });
  const snapshotOptions = {
    ...plan.snapshot,
    states: filter.states,
    bytecode: filter.bytecode,
    keepAttributes: filter.needsAttributes || plan.snapshot.keepAttributes,
    readAheadFrom: values['read-ahead'] ? 0 : undefined,
  };
  const devNull = openSync('/dev/null', 'w');
  const toDevNull = (chunk: Uint8Array | string) => void (typeof chunk === 'string' ? writeSync(devNull, chunk) : writeSync(devNull, chunk));
  const dropped = () => undefined;
  const baseRecordOptions = { extended: plan.extended, timers: plan.timers, info: plan.info, memory: plan.memory, interfaceName: sysfsInterfaceNames() };
  const streamed = plan.format !== 'table';
  const stages = streamed ? ['dump', 'format', 'write'] : ['procs', 'snapshot', 'format', 'write', 'stream'];
  const upTo = stages.indexOf(stage);
  if (upTo < 0) throw new Error(`--stage for ${plan.format}: ${stages.join('|')}, got '${stage}'`);
  const upToStage = (s: string) => stages.indexOf(s) <= upTo;
  const writing = upToStage('write');

  if (streamed) {
    return async () => {
      const holders = plan.processes ? await indexSocketHoldersParallel() : undefined;
      const writer = new SocketJsonWriter({ ...baseRecordOptions, processes: holders });
      const bytes = writer.bytes;
      let n = 0;
      let first = true;
      if (writing && plan.format === 'json') toDevNull('{"sockets":[');
      const meta = await streamSnapshot(snapshotOptions, (t) => {
        const view = t.arenaView();
        for (let i = 0; i < t.length; i++) {
          if (!filter.matches(t, i)) continue;
          n++;
          if (!upToStage('format')) continue;
          if (plan.format === 'ndjson') {
            writer.append(t, i, view);
            bytes.byte(10);
          } else {
            if (!first) bytes.byte(44);
            bytes.byte(10);
            writer.append(t, i, view);
          }
          first = false;
        }
        // the CLI hands each batch's bytes to stdout (synchronous on Linux) and reuses the buffer
        bytes.flush(writing ? toDevNull : dropped, () => true);
      });
      if (writing && plan.format === 'json') toDevNull(`\n],"sources":${JSON.stringify(meta.sources)},"notes":${JSON.stringify(meta.notes)}}\n`);
      return n;
    };
  }
  if (stage === 'stream') {
    if (plan.processes || plan.snapshot.protocols?.includes('unix')) throw new Error('--stage stream: the CLI streams tables of inet sockets without -p');
    const { JsonBytes } = await import('../src/outputs/text/json-bytes.js');
    return async () => {
      const widths = { netid: 0, state: 0, recv: 0, send: 0, local: 0, peer: 0 };
      const bytes = new JsonBytes(1 << 18);
      let rows = new Uint32Array(1024);
      let header = plan.header;
      let n = 0;
      await streamSnapshot(snapshotOptions, (t) => {
        if (rows.length < t.length) rows = new Uint32Array(t.length);
        let count = 0;
        for (let i = 0; i < t.length; i++) if (filter.matches(t, i)) rows[count++] = i;
        if (count === 0) return;
        n += count;
        const layout = { header, netid: plan.tables !== 1, widths, bytes, write: toDevNull, drained: () => true };
        lsTableBytes(t, rows.subarray(0, count), t.arenaView(), baseRecordOptions, layout);
        header = false;
      });
      return n;
    };
  }
  return async () => {
    if (stage === 'procs') return plan.processes ? (await indexSocketHoldersParallel()).size : 0;
    const walk = plan.processes && stage !== 'snapshot' ? ParallelHolderWalk.start() : undefined;
    const snap = await takeSnapshot(snapshotOptions);
    const holders = await walk?.finish();
    const t = snap.table;
    const rows: number[] = [];
    for (let i = 0; i < t.length; i++) if (filter.matches(t, i)) rows.push(i);
    if (stage === 'snapshot') return rows.length;
    const view = t.arenaView();
    const netid = lsShowsNetid(t, rows, plan.snapshot.protocols?.length ?? 0);
    // as the CLI: the text handed over in chunks as it is made (dropped before the write stage)
    lsTableBytes(
      t,
      rows,
      view,
      { ...baseRecordOptions, processes: holders },
      { header: plan.header, netid, write: writing ? toDevNull : dropped, drained: () => true },
    );
    return rows.length;
  };
}

main().catch((e: unknown) => {
  const message = (e as Error)?.stack ?? String(e);
  process.stdout.write(`${JSON.stringify(values.serve ? { event: 'error', message } : { error: message })}\n`);
  process.exitCode = 1;
});
