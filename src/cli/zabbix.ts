/** `sockscope zabbix send` (one trapper push, prints the server's answer) and `sockscope zabbix template`. */
import { UsageError } from '../errors.js';
import { parseOptions } from './options.js';

export const ZABBIX_HELP = `Usage: sockscope zabbix send --server HOST[:PORT] [--host NAME] [--port-group SPEC]... [--compress]
       sockscope zabbix template [--passive]

send      one gather (netstat, netstat_port, listen, socket counts) pushed to a Zabbix server's trapper
          port (default 10051) as trapper items; prints the server's answer (processed/failed/total).
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
    timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' },
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
  const items = senderItems({ metrics, report, time: metrics[0]?.time ?? Date.now() }, host);
  const answer = await sendItems(v.server, items, { compress: v.compress, timeoutMs: v.timeout ? parseDuration(v.timeout, 'timeout') : 5000 });
  process.stdout.write(`${JSON.stringify({ response: answer.response, info: answer.info, sent: items.length })}\n`);
  if (answer.response !== 'success' || answer.failed > 0) {
    process.stderr.write(`sockscope: the Zabbix server did not accept every item (${answer.info}): check that host '${host}' has the template's trapper items\n`);
    process.exitCode = 1;
  }
}
