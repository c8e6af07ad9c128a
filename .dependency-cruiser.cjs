/**
 * The layers of src/ (docs/architecture.md), lowest first: a module may import its own layer and the layers
 * below it, never one above. `npm run lint:layers` checks it (dependency-cruiser), and .ci/run runs that.
 * Type-only imports count too: a type from above is a dependency on above.
 */
const LAYERS = [
  ['base', '^src/(errors|version)\\.ts$|^src/util/'],
  ['sys', '^src/sys/'],
  ['netlink', '^src/netlink/'],
  // the columnar table the decoders fill: below them, though it lives beside the snapshot code
  ['table', '^src/snapshot/table\\.ts$'],
  ['diag', '^src/diag/'],
  ['procfs', '^src/procfs/'],
  // src/lifecycle's parts sit in the layers of what they are: the destroy-event subscription beside the dumps,
  // the tracker with the collectors, its host with the gather, ls -E's loop with the CLI
  ['snapshot', '^src/snapshot/|^src/lifecycle/(events|subscription|subscription-entry)\\.ts$'],
  ['filter, model, resolve', '^src/(filter|model|resolve)/'],
  ['collectors, summary', '^src/collectors/|^src/summary/summary\\.ts$|^src/lifecycle/tracker\\.ts$'],
  ['gather', '^src/gather/|^src/lifecycle/host\\.ts$'],
  ['outputs', '^src/outputs/|^src/summary/render\\.ts$'],
  ['config, zabbix', '^src/(config|zabbix)/'],
  ['agent', '^src/agent/'],
  ['cli, library entry', '^src/cli/|^src/index\\.ts$|^src/lifecycle/follow\\.ts$'],
];

/** A module's layer is the first that matches: table before snapshot. */
const notEarlier = (n) => LAYERS.slice(0, n).map(([, re]) => `(${re})`).join('|');

const forbidden = LAYERS.slice(0, -1).map(([name, re], n) => ({
  name: `layer-${name.replace(/[^a-z]+/g, '-')}`,
  comment: `${name} imports nothing above it (docs/architecture.md)`,
  severity: 'error',
  from: { path: re, ...(n > 0 ? { pathNot: notEarlier(n) } : {}) },
  to: { path: LAYERS.slice(n + 1).map(([, r]) => `(${r})`).join('|'), pathNot: notEarlier(n + 1) },
}));

module.exports = {
  forbidden: [
    ...forbidden,
    { name: 'no-circular', severity: 'error', comment: 'no import cycles', from: {}, to: { circular: true } },
    {
      name: 'collectors-do-no-io',
      severity: 'error',
      comment: 'collectors are pure: host facts and snapshots are read by src/gather and handed in',
      from: { path: '^src/collectors/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(fs|fs/promises|child_process|net|dgram|http|https|worker_threads)$' },
    },
    {
      name: 'koffi-only-in-sys',
      severity: 'error',
      comment: 'the FFI lives in src/sys/libc.ts',
      from: { pathNot: '^src/sys/libc\\.ts$' },
      to: { path: 'node_modules/koffi' },
    },
    {
      name: 'src-not-test',
      severity: 'error',
      comment: 'production code never imports tests or benchmarks',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // TypeScript 7 (tsgo) has no JS API for dependency-cruiser: sources are parsed with Babel's TypeScript
    // preset, which keeps type-only imports (they are dependencies too)
    babelConfig: { fileName: '.babelrc.depcruise.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
