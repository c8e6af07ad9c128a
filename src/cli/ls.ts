/**
 * `sockscope ls`: the ss / ss2 successor. Options as ss spells them, ss's filter language after them, and four
 * formats: table (people), json (one document), ndjson (one socket per line, streamed: memory does not grow
 * with the number of sockets), ss2 (pyroute2 ss2's document shape, its defects fixed).
 */
import { interfaceNames } from '../netlink/links.js';
import { ALL_STATES } from '../diag/constants.js';
import { UsageError } from '../errors.js';
import type { SocketTable } from '../snapshot/table.js';
import { printHelp } from './help.js';
import { bindFamily } from './ls-families.js';
import { type LsPlan, planLs } from './ls-plan.js';
import { dumpRaw } from './ls-actions.js';
import { listSockets } from './ls-list.js';

export { type LsPlan, planLs, SS_CONN } from './ls-plan.js';

export async function runLs(args: string[]): Promise<void> {
  const plan = planLs(args);
  if (plan === 'help') return printHelp('ls');
  if (plan.events) {
    const { compileFilter, hasNetAdmin } = await import('../filter/index.js');
    const resolveDevice = plan.filterWords.length > 0 ? await namespaceDevices(plan) : undefined;
    return followLs(
      plan,
      compileFilter(plan.filterWords, { defaultStates: ALL_STATES, protocols: plan.snapshot.protocols, netAdmin: hasNetAdmin(), resolveDevice }),
    );
  }
  // no expression: the states alone, without loading the filter language (ten modules) before the first syscall
  const filter =
    plan.filterWords.length === 0
      ? statesOnly(plan.snapshot.states!)
      : await (async () => {
          const { compileFilter, hasNetAdmin } = await import('../filter/index.js');
          const f = compileFilter(plan.filterWords, {
            defaultStates: plan.snapshot.states!,
            protocols: plan.snapshot.protocols,
            netAdmin: hasNetAdmin(),
            linkFamily: plan.linkFamily,
            resolveDevice: await namespaceDevices(plan),
          });
          bindFamily(plan, f.parsed.family);
          if (plan.allNetns) await deviceIndexesOnly(f.parsed);
          return f;
        })();
  plan.snapshot.states = filter.states;
  plan.snapshot.bytecode = filter.bytecode;
  if ((filter as { needsAttributes?: boolean }).needsAttributes) plan.snapshot.keepAttributes = true; // a filter on cgroup or mark
  for (const w of filter.warnings) process.stderr.write(`sockscope: ${w}\n`);

  if (plan.diag !== undefined) return dumpRaw(plan);

  if (plan.summary) {
    // ss -s: the kernel's own counters (/proc/net/sockstat, sockstat6, snmp), in ss's layout
    const { ssSummary } = await import('../outputs/listing/ss-words.js');
    process.stdout.write(ssSummary());
    return;
  }

  // a big listing: the read-ahead worker starts now, its start overlapping the rest of ls's (src/snapshot/read-ahead.ts)
  if (plan.readAheadFrom !== undefined && !plan.allNetns) {
    const [{ estimateSockets }, { startReadAhead }] = await Promise.all([import('../snapshot/plan.js'), import('../snapshot/read-ahead.js')]);
    if (estimateSockets(plan.snapshot.protocols!, '/proc') >= plan.readAheadFrom) startReadAhead();
  }

  // -p: the /proc walk starts now, in worker threads, and runs while this thread loads the rest and (table,
  // -r) takes the kernel snapshot; this thread joins it when the first row needs it
  const walkAbort = new AbortController();
  const walk = plan.processes ? import('../procfs/holders-parallel.js').then((m) => m.ParallelHolderWalk.start({ signal: walkAbort.signal })) : undefined;
  try {
    await listSockets(plan, filter, walk);
  } finally {
    walkAbort.abort(); // the workers have answered, or the listing failed and nobody will read the index
  }
}

/**
 * Device names in a filter (`dev eth0`, a packet socket's `:eth0`) as the listed namespace has them, as ss resolves
 * them after entering -N's: with -N this thread enters the namespace now (the dump enters it anyway) and the names
 * come from an RTM_GETLINK dump there (src/netlink/links.ts); /sys/class/net, the caller's, when the FFI is missing.
 */
async function namespaceDevices(plan: LsPlan): Promise<((name: string) => number | undefined) | undefined> {
  const [{ interfaceIndexes }, { sysfsIfindex }] = await Promise.all([import('../netlink/links.js'), import('../filter/resolve.js')]);
  try {
    const { enterNetns } = await import('../snapshot/session.js');
    if (plan.snapshot.netns !== undefined) await enterNetns(plan.snapshot.netns);
    else await (await import('../sys/libc.js')).loadLibc();
  } catch (e) {
    if ((e as { code?: string }).code !== 'ESOCKSCOPE_NETLINK_UNAVAILABLE') throw e; // a namespace that cannot be entered says so
    return undefined;
  }
  return interfaceIndexes(sysfsIfindex);
}

/**
 * --all-netns: a device named in a filter would be resolved in this namespace alone, while each namespace numbers
 * its own devices: a name is refused, an index (matched as each namespace numbers it) taken.
 */
async function deviceIndexesOnly(parsed: import('../filter/ast.js').ParsedFilter): Promise<void> {
  const { eachNode } = await import('../filter/ast.js');
  eachNode(parsed.root, (n) => {
    if (n.kind === 'dev' && !/^(\d+|0x[0-9a-f]+)$/i.test(n.name))
      throw new UsageError(
        `dev ${n.name} does not go with --all-netns: each namespace numbers its devices apart; give the interface index (dev N), or -N NAME for one namespace`,
        { key: 'filter', value: n.name },
      );
  });
}

/** compileFilter([]) without the filter modules: what it returns for no expression (test/cli/ls.test.ts compares). */
export function statesOnly(states: number): Pick<CompiledFilter, 'states' | 'warnings' | 'matches' | 'bytecode'> {
  return { states, warnings: [], matches: (t: SocketTable, r: number) => ((states >>> t.state[r]) & 1) === 1 };
}

type CompiledFilter = import('../filter/index.js').CompiledFilter;

/** -E: until SIGINT or SIGTERM; the counts (and any loss) on stderr. */
async function followLs(plan: LsPlan, filter: import('../filter/index.js').CompiledFilter): Promise<void> {
  if (plan.summary || plan.processes || plan.resolve)
    throw new UsageError('-E cannot be combined with -s, -p or -r (closed sockets have no process; names would stall the stream)', { key: 'events' });
  if (plan.allNetns)
    throw new UsageError('-E follows one network namespace: give -N NAME|PID|PATH, not --all-netns or a namespace selector', { key: 'events' });
  const { followEvents, followSummary } = await import('../lifecycle/follow.js');
  for (const w of filter.warnings) process.stderr.write(`sockscope: ${w}\n`);
  const stop = new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const record = { extended: plan.extended, timers: plan.timers, info: plan.info, memory: plan.memory, interfaceName: interfaceNames() };
  const result = await followEvents(
    {
      ...plan.snapshot,
      protocols: plan.snapshot.protocols!,
      families: plan.snapshot.families!,
      protocolsChosen: plan.protocolsChosen,
      rcvbufBytes: plan.rcvbufBytes,
      format: plan.format,
      header: plan.header,
      record,
    },
    filter,
    process.stdout,
    stop,
  );
  process.stderr.write(`sockscope: ${followSummary(result)}\n`);
}
