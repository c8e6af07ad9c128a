/**
 * Run inside a namespace (netns.ts runs it with nsenter): compile filters with src/filter, take snapshots with
 * them and print which sockets each selects, as one JSON document, so the test process never enters the
 * namespace itself. Compiling here matters: dev names, cgroup ids and the ephemeral port range are read in
 * the namespace, as they would be by `sockscope ls` run there.
 *
 *   node dist/test/helpers/filter-select.js '{"runs":[{"id":"a","protocols":["tcp"],"expression":"sport = :22","mode":"both"}]}'
 *
 * Modes:
 *   both       takeSnapshot({ states, bytecode }) then matches(): what `sockscope ls` shows
 *   kernel     the same snapshot, every row the kernel returned (what crossed with the program)
 *   unfiltered takeSnapshot({ states }) without the program, every row (what crosses without it)
 *   matches    takeSnapshot({ every state }) without the program, then matches() alone
 *   proc       the /proc/net source (no netlink at all), then matches()
 */
import { ALL_STATES, DiagSession, formatAddress, takeSnapshot, type ProtoName, type SnapshotOptions } from '../../src/index.js';
import { compileFilter, type CompiledFilter } from '../../src/filter/index.js';
import type { SockscopeError } from '../../src/errors.js';

export type SelectMode = 'both' | 'kernel' | 'unfiltered' | 'matches' | 'proc';

export interface SelectRun {
  id: string;
  protocols: ProtoName[];
  expression: string;
  mode: SelectMode;
  /** default ALL_STATES (ss -a) */
  defaultStates?: number;
  netAdmin?: boolean;
}

export interface SelectedSocket {
  protocol: number;
  state: number;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
}

export type SelectResult =
  | {
      id: string;
      states: number;
      bytecodeLength: number;
      needsAttributes: boolean;
      warnings: string[];
      crossed: number;
      selected: SelectedSocket[];
      notes: string[];
    }
  | { id: string; error: { code: string; message: string } };

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as { runs: SelectRun[] };
  const session = await DiagSession.open();
  const results: SelectResult[] = [];
  try {
    for (const run of input.runs) {
      let f: CompiledFilter;
      try {
        f = compileFilter(run.expression, { defaultStates: run.defaultStates ?? ALL_STATES, protocols: run.protocols, netAdmin: run.netAdmin ?? false });
      } catch (e) {
        const err = e as SockscopeError;
        results.push({ id: run.id, error: { code: err.code, message: err.message } });
        continue;
      }
      const options: SnapshotOptions = { protocols: run.protocols, keepAttributes: f.needsAttributes };
      if (run.mode === 'both' || run.mode === 'kernel') {
        options.states = f.states;
        if (f.bytecode) options.bytecode = f.bytecode;
      } else if (run.mode === 'unfiltered') {
        options.states = f.states;
      } else {
        options.states = ALL_STATES;
        if (run.mode === 'proc') options.source = 'proc';
      }
      const snap = await takeSnapshot(options, run.mode === 'proc' ? undefined : session);
      const t = snap.table;
      const selected: SelectedSocket[] = [];
      for (let i = 0; i < t.length; i++) {
        const filtered = run.mode === 'both' || run.mode === 'matches' || run.mode === 'proc';
        if (filtered && !f.matches(t, i)) continue;
        selected.push({
          protocol: t.proto[i],
          state: t.state[i],
          local: formatAddress(t.family[i], t.src, i * 16),
          localPort: t.sport[i],
          remote: formatAddress(t.family[i], t.dst, i * 16),
          remotePort: t.dport[i],
        });
      }
      results.push({
        id: run.id,
        states: f.states,
        bytecodeLength: f.bytecode?.length ?? 0,
        needsAttributes: f.needsAttributes,
        warnings: f.warnings,
        crossed: t.length,
        selected,
        notes: snap.notes,
      });
    }
  } finally {
    session.close();
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`filter-select: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
