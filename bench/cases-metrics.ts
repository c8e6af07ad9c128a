/**
 * Metrics cases for bench/run.ts (imported there and appended to CASES): `sockscope gather` whole process
 * against the seed shell pipelines it replaces. Structurally the same shapes as run.ts's CaseDef/RowDef; kept
 * here, self-contained (no import of run.ts: that would be circular), so run.ts only spreads METRICS_CASES.
 *
 * The execd and agent measurements (long-running processes, /proc/<pid>/stat deltas, /metrics latency) do not fit
 * the one-shot row model: they live in bench/agent-load.ts (`node dist/bench/agent-load.js`).
 */
const sh = (script: string): string[] => ['sh', '-c', script];
/** as users run it: bin/sockscope.js executed, its sh launcher then node (bench/run.ts, `sockscope`) */
const sockscope = (...args: string[]) => ['bin/sockscope.js', ...args];

/**
 * The seed's netstat.sh, as an exec input for Telegraf would have it: `ss -ant | awk` counting states, one
 * Telegraf-style line per state (`netstat,state=established count=100000i`).
 */
export const SEED_NETSTAT_AWK = `ss -ant | awk 'NR > 1 { n[tolower($1)]++ } END { for (s in n) printf "netstat,state=%s count=%di\\n", s, n[s] }'`;
const sumInflux = (out: string) =>
  out
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + (Number(/count=(\d+)i/.exec(line)?.[1]) || 0), 0);

interface MiniCtx {
  sockets: number;
  mix: { estab: number; closewait: number };
}

export const METRICS_CASES = [
  {
    id: 'gather-netstat',
    title: 'netstat metrics (influx), whole process, vs the seed netstat.sh (ss -ant | awk)',
    peer: {
      name: 'seed netstat.sh: ss -ant | awk (one influx line per state)',
      runner: { kind: 'process' as const, argv: () => sh(SEED_NETSTAT_AWK), stdout: 'capture' as const, parse: sumInflux },
    },
    rows: [
      {
        name: 'sockscope gather --measurement netstat --format influx > /dev/null',
        runner: { kind: 'process' as const, argv: () => sockscope('gather', '--measurement', 'netstat', '--format', 'influx') },
      },
    ],
    targets: { ratio: 0.7, fromSockets: 150_000 }, // issue 17
  },
  {
    id: 'gather-socketstat',
    title: 'socketstat (one point per TCP connection, tcp_info), whole process, vs ss -in --tcp',
    peer: {
      name: 'ss -in --tcp > /dev/null',
      runner: { kind: 'process' as const, argv: () => ['ss', '-in', '--tcp'], countLines: '^(?!State|Netid)\\S' },
      // ss's default states: the ESTABLISHED pairs and the CLOSE_WAIT/FIN_WAIT2 pairs
      expect: (c: MiniCtx) => 2 * c.mix.estab + 2 * c.mix.closewait,
    },
    rows: [
      {
        name: 'sockscope gather --measurement socketstat --format influx > /dev/null',
        runner: {
          kind: 'process' as const,
          argv: () => sockscope('gather', '--measurement', 'socketstat', '--format', 'influx'),
          countLines: '^socketstat,',
        },
        countNote: (n: number, c: MiniCtx) =>
          n >= 2 * c.mix.estab ? undefined : `${n} socketstat points, fewer than the ${2 * c.mix.estab} ESTABLISHED connections`,
      },
    ],
    targets: { ratio: 0.5, maxRssMiB: 300, fromSockets: 150_000 }, // issue 17
  },
];
