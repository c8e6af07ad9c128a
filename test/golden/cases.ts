/**
 * The golden cases: what each user-facing output prints for the recorded fixture snapshot (test/fixtures, one
 * recording of the population of test/helpers/population-holder.ts).
 *
 * Most cases run the `sockscope` command itself (main(), in-process) with its netlink session answered by the
 * recording (replayTransport + recordedAnswer, the seam every replay test uses): the CLI's option parsing,
 * planning, snapshot, collectors and writers are all production code. Two things a recording cannot answer
 * are pinned one level down, through the same writers the CLI calls: -p (the processes holding each socket;
 * the CLI walks the live /proc) with a fixed holder index, and -r (host names; the CLI asks DNS) with a fixed
 * name function.
 *
 * runner.ts runs these cases in a fresh network namespace (nothing in its /proc/net/raw, the default
 * ip_local_port_range), with Date.now() fixed at the recording's time; golden.test.ts compares the bytes.
 */
import type { Population } from '../helpers/population-holder.js';

export interface CliCase {
  kind: 'cli';
  /** path of the golden file under test/golden/expected/ */
  file: string;
  /** argv after `sockscope` */
  argv: string[];
}

export interface WriterCase {
  kind: 'writer';
  file: string;
  /** which writer: the fast ndjson writer, the record object (ls -r / the library), the table */
  writer: 'ndjson' | 'record' | 'table';
  /** ls detail flags: e, o, i, m */
  flags: string;
  /** fixed holders (-p) and/or host names (-r) */
  with: 'processes' | 'names';
}

export interface ZabbixSendCase {
  kind: 'zabbix-send';
  file: string;
  /** argv after `sockscope zabbix send --server <the test's trapper>` */
  argv: string[];
}

export type GoldenCase = CliCase | WriterCase | ZabbixSendCase;

/** A file name from arguments: "-tan --format json" → "tan_format-json". */
const slug = (argv: readonly string[]) => argv.map((a) => a.replace(/^-+/, '').replace(/[^A-Za-z0-9.,=@:-]+/g, '-')).join('_') || 'default';

export function goldenCases(population: Population): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const cli = (dir: string, argv: string[], name = slug(argv)) => cases.push({ kind: 'cli', file: `${dir}/${name}`, argv });

  // --- ls: every format × protocol selection × state selection, without and with every detail flag --------
  for (const format of ['table', 'json', 'ndjson', 'ss2']) {
    for (const protocols of ['-t', '-u', '-x', '']) {
      for (const states of ['', 'a', 'l']) {
        // ss2 always carries tcp_info, memory and the congestion algorithm: the detail flags are pinned once, below
        for (const details of format === 'ss2' ? ['n'] : ['n', 'neoim']) {
          const flags = `${protocols || '-'}${states}${details}`;
          cli(`ls-${format}`, ['ls', flags, '--format', format], slug([flags]));
        }
      }
    }
    // each detail flag alone, over every state of TCP, UDP and unix
    for (const d of ['e', 'o', 'i', 'm']) cli(`ls-${format}`, ['ls', `-tuxan${d}`, '--format', format], slug([`-tuxan${d}`]));
    cli(`ls-${format}`, ['ls', '-4an', '--format', format], slug(['-4an']));
    cli(`ls-${format}`, ['ls', '-6aneoim', '--format', format], slug(['-6aneoim']));
    cli(`ls-${format}`, ['ls', '-tan', '--format', format, 'state', 'established', 'sport', '>', ':1024'], 'tan_filter-established-sport');
    if (format === 'ss2') cli(`ls-${format}`, ['ls', '-tuxaneoim', '--format', format], slug(['-tuxaneoim']));
  }
  cli('ls-table', ['ls', '-tanH'], 'tanH');
  cli('ls-table', ['ls'], 'default'); // no flags at all: ss's default (connected sockets, every protocol)
  cli('ls-table', ['ls', '-tan', `dport = :${population.tcp.listeners.find((l) => l.name === 'node-v4')!.port}`], 'tan_dport-node-v4');
  cli('ls-table', ['ls', '-xa', 'exclude', 'listening'], 'xa_exclude-listening');
  // ls -s is ss -s: the kernel's /proc/net counters, live, compared with ss in test/integration/ls-vs-ss.test.ts

  // -p and -r through the writers, with fixed holders and names (see the header)
  for (const writer of ['ndjson', 'record', 'table'] as const) {
    for (const flags of ['', 'eoim']) {
      cases.push({ kind: 'writer', file: `ls-writers/${writer}_p${flags}`, writer, flags, with: 'processes' });
      cases.push({ kind: 'writer', file: `ls-writers/${writer}_r${flags}`, writer, flags, with: 'names' });
    }
  }

  // --- the summary (`sockscope`) -------------------------------------------------------------------------
  cli('summary', [], 'text');
  cli('summary', ['--json'], 'json');
  cli('summary', ['--top', '3'], 'text_top-3');
  cli('summary', ['--json', '--top', '0'], 'json_top-0');

  // --- gather: each measurement alone in each format, then the mixes ---------------------------------------
  const pop = population;
  const port = (name: string) => pop.tcp.listeners.find((l) => l.name === name)!.port;
  const groups = [
    '--port-group',
    `${port('node-v4')},${port('node-dual')},${pop.udp.bound[0].port}@service=web`,
    '--port-group',
    `*:${port('node-v6')}@service=web6`,
    '--port-group',
    `remote:${port('node-v4')}@direction=out`,
  ];
  const host = ['--host-tag', 'fixture'];
  const measurements: [string, string[]][] = [
    ['netstat', []],
    ['netstat_port', groups],
    ['socketstat', []],
    ['listen', []],
  ];
  for (const format of ['influx', 'prometheus', 'openmetrics', 'json']) {
    for (const [m, extra] of measurements) cli('gather', ['gather', '--measurement', m, ...extra, ...host, '--format', format], `${m}.${format}`);
    cli('gather', ['gather', '--measurement', 'netstat,netstat_port,socketstat,listen', ...groups, ...host, '--format', format], `all.${format}`);
    cli('gather', ['gather', '--measurement', 'socketstat', '--socketstat-info', 'all', ...host, '--format', format], `socketstat-info.${format}`);
    cli('gather', ['gather', '--measurement', 'socketstat', '--socketstat-aggregate', ...host, '--format', format], `socketstat-aggregate.${format}`);
    cli(
      'gather',
      ['gather', '--measurement', 'netstat,netstat_port', '--netstat-semantics', 'telegraf', '--per-ip-version', ...groups, ...host, '--format', format],
      `telegraf.${format}`,
    );
  }
  cli('gather', ['gather', '--measurement', 'socketstat', '--socketstat-info', 'all', '--influx-uint', ...host], 'socketstat-info-uint.influx');
  cli('gather', ['gather', '--measurement', 'netstat', '--per-ip-version', ...host], 'netstat-per-ip-version.influx');
  cli(
    'gather',
    [
      'gather',
      '--measurement',
      'netstat_port',
      '--addr-ports',
      JSON.stringify([String(port('node-v4')), `127.0.0.1:${port('node-v4-unread')}`]),
      '--tag',
      'env=golden',
      ...host,
    ],
    'netstat_port-addr-ports.influx',
  );

  // --- Zabbix: the trapper push (the frame's bytes) and both templates -------------------------------------
  cases.push({ kind: 'zabbix-send', file: 'zabbix/send.frame', argv: ['--host', 'fixture'] });
  cases.push({ kind: 'zabbix-send', file: 'zabbix/send_port-groups.frame', argv: ['--host', 'fixture', ...groups] });
  cases.push({ kind: 'zabbix-send', file: 'zabbix/send_compress.frame', argv: ['--host', 'fixture', '--compress'] });
  cli('zabbix', ['zabbix', 'template'], 'template.yaml');
  cli('zabbix', ['zabbix', 'template', '--passive'], 'template_passive.yaml');
  return cases;
}
