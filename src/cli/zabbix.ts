/** `sockscope zabbix send` (one trapper push, prints the server's answer) and `sockscope zabbix template`. */
import { UsageError } from '../errors.js';
import { onlyFormat } from './agent.js';
import { parseCommand } from './options.js';
import { commandSpec } from './spec.js';
import { printHelp } from './help.js';

export async function runZabbix(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError("zabbix needs a command: 'send' or 'template'. See 'sockscope zabbix --help'.");
  if (sub === '--help' || sub === '-h') return printHelp('zabbix');
  if (sub === 'template') {
    const o = parseCommand(commandSpec('zabbix template'), rest);
    if (o.flag('help')) return printHelp('zabbix template');
    onlyFormat(o.str('format'), 'yaml');
    const { zabbixTemplate } = await import('../zabbix/template.js');
    process.stdout.write(zabbixTemplate({ passive: o.flag('passive') }));
    return;
  }
  if (sub !== 'send')
    throw new UsageError(`unknown zabbix command '${sub}': expected 'send' or 'template'. See 'sockscope zabbix --help'.`, { key: 'command', value: sub });
  const o = parseCommand(commandSpec('zabbix send'), rest);
  if (o.flag('help')) return printHelp('zabbix send');
  onlyFormat(o.str('format'), 'json');
  const v = {
    server: o.str('server'),
    host: o.str('host'),
    'port-group': o.list('port-group'),
    compress: o.flag('compress'),
    timeout: o.str('timeout'),
    state: o.str('state'),
  };
  if (!v.server) throw new UsageError('zabbix send needs --server HOST[:PORT] (the Zabbix server or proxy trapper)');
  const [{ gather, hostname }, { parsePortGroups }, { parsePortGroupSpec, parseDuration }, { senderItems }, { sendItems, splitServer }, snap] =
    await Promise.all([
      import('../gather/gather.js'),
      import('../collectors/netstat-port.js'),
      import('./values.js'),
      import('../zabbix/items.js'),
      import('../zabbix/sender.js'),
      import('../snapshot/snapshot.js'),
    ]);
  splitServer(v.server);
  const groups = parsePortGroups((v['port-group'] ?? []).map(parsePortGroupSpec), '--port-group');
  const metrics: import('../model/metric.js').Metric[] = [];
  const report = await gather(
    {
      measurements: ['netstat', 'netstat_port', 'listen'],
      netstat: { perIpVersion: true },
      netstatPort: { groups, autoListenPorts: true },
      countProtocols: ['unix'],
    },
    { snapshot: (o) => snap.takeSnapshot(o), census: (o) => snap.takeCensus(o) },
    (m) => metrics.push(m),
  );
  const host = v.host ?? hostname();
  // --state: the ports discovered by earlier runs, so a port that stopped listening reads 0 (not its last value)
  const { loadMemory, saveMemory } = await import('../zabbix/state.js');
  const memory = v.state ? loadMemory(v.state) : undefined;
  const items = senderItems({ metrics, report, time: metrics[0]?.time ?? Date.now() }, host, memory);
  const answer = await sendItems(v.server, items, { compress: v.compress, timeoutMs: v.timeout ? parseDuration(v.timeout, 'timeout') : 5000 });
  if (memory) saveMemory(v.state!, memory);
  process.stdout.write(`${JSON.stringify({ response: answer.response, info: answer.info, sent: items.length })}\n`);
  if (answer.response !== 'success' || answer.failed > 0) {
    const { explainRefusal } = await import('../zabbix/refusal.js');
    process.stderr.write(`sockscope: ${explainRefusal(items, answer)}\n`);
    process.exitCode = 1;
  }
}
