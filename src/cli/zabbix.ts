/** `sockscope zabbix send` (one trapper push, prints the server's answer) and `sockscope zabbix template`. */
import { UsageError } from '../errors.js';
import { parseOptions } from './options.js';

export const ZABBIX_HELP = `Usage: sockscope zabbix send --server HOST[:PORT] [--host NAME] [--port-group SPEC]... [--compress] [--state FILE]
       sockscope zabbix template [--passive]

send      one gather (netstat, netstat_port, listen, socket counts) pushed to a Zabbix server's trapper
          port (default 10051) as trapper items; prints the server's answer (processed/failed/total).
          --state FILE remembers the discovered ports between runs, so the items of a port that
          stopped listening read 0 while Zabbix keeps them (as sockscope agent does).
template  a Zabbix 6.0 YAML template for those items (trapper), or for polling sockscope agent's passive
          listener (--passive). Import it in Zabbix: Data collection > Templates > Import.
`;

export async function runZabbix(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'template') {
    const { values } = parseOptions(rest, { passive: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
    if (values.help) return void process.stdout.write(ZABBIX_HELP);
    const { zabbixTemplate } = await import('../zabbix/template.js');
    process.stdout.write(zabbixTemplate({ passive: !!values.passive }));
    return;
  }
  if (sub !== 'send') {
    if (sub === undefined || sub === '--help' || sub === '-h') return void process.stdout.write(ZABBIX_HELP);
    throw new UsageError(`unknown zabbix command '${sub}': expected 'send' or 'template'`);
  }
  const { values: v } = parseOptions(rest, {
    server: { type: 'string' }, host: { type: 'string' }, 'port-group': { type: 'string', multiple: true }, compress: { type: 'boolean' },
    timeout: { type: 'string' }, state: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return void process.stdout.write(ZABBIX_HELP);
  if (!v.server) throw new UsageError('zabbix send needs --server HOST[:PORT] (the Zabbix server or proxy trapper)');
  const [{ gather, hostname }, { parsePortGroups }, { parsePortGroupSpec, parseDuration }, { senderItems }, { sendItems, splitServer }, snap] = await Promise.all([
    import('../gather/gather.js'), import('../collectors/netstat-port.js'), import('./values.js'), import('../zabbix/items.js'), import('../zabbix/sender.js'), import('../snapshot/snapshot.js'),
  ]);
  splitServer(v.server);
  const groups = parsePortGroups((v['port-group'] ?? []).map(parsePortGroupSpec), '--port-group');
  const metrics: import('../model/metric.js').Metric[] = [];
  const report = await gather({
    measurements: ['netstat', 'netstat_port', 'listen'],
    netstat: { perIpVersion: true },
    netstatPort: { groups, autoListenPorts: true },
    countProtocols: ['unix'],
  }, { snapshot: (o) => snap.takeSnapshot(o), census: (o) => snap.takeCensus(o) }, (m) => metrics.push(m));
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
