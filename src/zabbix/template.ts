/**
 * `sockscope zabbix template [--passive]`: a Zabbix 6.0 YAML template (zabbix_export version '6.0'): items for
 * every TCP state (trapper, or Zabbix agent for the passive variant), UDP and unix counts, LLD rules with item
 * prototypes for port groups, triggers with {$MACROS} thresholds (CLOSE_WAIT growing, listen backlog near
 * full, TIME_WAIT near the ephemeral port range) and a graph of TCP states. UUIDs are derived from names (UUIDv4
 * shaped), so the same template imports as the same objects every time.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { NETSTAT_FIELDS } from '../collectors/netstat.js';
import { doctorZabbixParts } from '../doctor/zabbix.js';

/**
 * Derived from the object's name (stable across runs) but shaped as a UUIDv4 (version nibble 4, variant 8-b):
 * Zabbix's import refuses anything else ("Invalid parameter "/1/uuid": UUIDv4 is expected.").
 */
const uuid = (name: string) => {
  const h = createHash('md5').update(`sockscope:${name}`).digest();
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  return h.toString('hex');
};

const COLORS = ['1A7C11', 'F63100', '2774A4', 'A54F10', 'FC6EA3', '6C59DC', 'AC8C14', '611F27', 'F230E0', '5CCD18', 'BB2A02', '00A0A0', '808080'];

export function zabbixTemplate(o: { passive: boolean }): string {
  const name = o.passive ? 'sockscope by Zabbix agent' : 'sockscope by Zabbix trapper';
  const type = o.passive ? 'ZABBIX_PASSIVE' : 'TRAPPER';
  const passiveOnly = (x: Record<string, unknown>) => (o.passive ? { ...x, delay: '1m' } : x);
  const item = (key: string, label: string, extra: Record<string, unknown> = {}) => passiveOnly({
    uuid: uuid(`${name}:${key}`), name: label, type, key, value_type: 'UNSIGNED',
    tags: [{ tag: 'component', value: 'sockets' }], ...extra,
  });
  const items: Record<string, unknown>[] = NETSTAT_FIELDS.map((f) => {
    const label = f === 'udp_socket' ? 'UDP sockets' : f === 'tcp_none' ? 'TCP sockets in no standard state' : `TCP ${f.slice(4).replace(/_/g, ' ').toUpperCase()}`;
    const extra: Record<string, unknown> = {};
    if (f === 'tcp_close_wait') {
      extra.triggers = [{
        uuid: uuid(`${name}:trigger:close_wait`), name: 'CLOSE_WAIT sockets piling up (an application is not closing connections)',
        expression: `min(/${name}/sockscope.netstat[tcp_close_wait],10m)>{$SOCKSCOPE.CLOSE_WAIT.MAX}`, priority: 'WARNING',
        description: 'CLOSE_WAIT: the peer closed, the local application has not. They only grow until the application closes them.',
      }];
    }
    return item(`sockscope.netstat[${f}]`, label, extra);
  });
  items.push(item('sockscope.sockets[tcp]', 'TCP sockets'), item('sockscope.sockets[udp]', 'UDP sockets (all)'), item('sockscope.sockets[unix]', 'Unix sockets'));
  items.push(item('sockscope.listen.backlog.max_pct', 'Fullest listen backlog, %', {
    value_type: 'FLOAT', units: '%',
    triggers: [{
      uuid: uuid(`${name}:trigger:backlog`), name: 'A listen backlog is nearly full (connections will be dropped)',
      expression: `min(/${name}/sockscope.listen.backlog.max_pct,5m)>{$SOCKSCOPE.BACKLOG.PCT.MAX}`, priority: 'HIGH',
    }],
  }));
  items.push(item('sockscope.local_port_range.size', 'Ephemeral port range size'));
  // the doctor's checks (collectors.doctor), items and triggers from their one table
  const doctor = doctorZabbixParts(name, item, uuid);
  items.push(...doctor.items);
  const template = {
    uuid: uuid(`${name}:template`), template: name, name,
    description: `Socket states from sockscope. ${o.passive ? 'Polled from sockscope agent --zabbix-listen.' : 'Pushed by sockscope agent with [outputs.zabbix] or sockscope zabbix send.'}`,
    groups: [{ name: 'Templates/Network' }],
    items,
    discovery_rules: [{
      uuid: uuid(`${name}:lld:portgroups`), name: 'Port groups', type, key: 'sockscope.portgroups.discovery', ...(o.passive ? { delay: '1h' } : {}),
      item_prototypes: ['tcp_established', 'tcp_time_wait', 'tcp_close_wait', 'tcp_listen', 'udp_socket'].map((f) => passiveOnly({
        uuid: uuid(`${name}:proto:${f}`), name: `{#ADDR_PORT}: ${f}`, type, key: `sockscope.port[{#ADDR_PORT},${f}]`, value_type: 'UNSIGNED',
        tags: [{ tag: 'port', value: '{#ADDR_PORT}' }],
      })),
    }, {
      uuid: uuid(`${name}:lld:listen`), name: 'Listening TCP ports', type, key: 'sockscope.ports.discovery', ...(o.passive ? { delay: '1h' } : {}),
      item_prototypes: [passiveOnly({
        uuid: uuid(`${name}:proto:listen-conns`), name: 'Connections to port {#PORT} ({#ADDR})', type: o.passive ? 'ZABBIX_PASSIVE' : 'TRAPPER',
        key: o.passive ? 'net.tcp.socket.count[,{#PORT},,,established]' : 'sockscope.port[{#PORT},tcp_established]', value_type: 'UNSIGNED',
        tags: [{ tag: 'port', value: '{#PORT}' }],
      })],
    }],
    macros: [
      { macro: '{$SOCKSCOPE.CLOSE_WAIT.MAX}', value: '100', description: 'CLOSE_WAIT sockets tolerated for 10 minutes' },
      { macro: '{$SOCKSCOPE.BACKLOG.PCT.MAX}', value: '80', description: 'listen backlog use, % (5 minutes)' },
      { macro: '{$SOCKSCOPE.TIME_WAIT.PCT.MAX}', value: '70', description: 'TIME_WAIT sockets as % of the ephemeral port range' },
      ...doctor.macros,
    ],
  };
  return stringify({
    zabbix_export: {
      version: '6.0',
      groups: [{ uuid: uuid('group:Templates/Network'), name: 'Templates/Network' }],
      templates: [template],
      triggers: [{
        uuid: uuid(`${name}:trigger:time_wait`), name: 'TIME_WAIT sockets near the ephemeral port range (new outgoing connections may fail)',
        expression: `last(/${name}/sockscope.netstat[tcp_time_wait])>last(/${name}/sockscope.local_port_range.size)*{$SOCKSCOPE.TIME_WAIT.PCT.MAX}/100`,
        priority: 'WARNING',
      }],
      graphs: [{
        uuid: uuid(`${name}:graph:states`), name: 'TCP states',
        graph_items: NETSTAT_FIELDS.filter((f) => f.startsWith('tcp_') && f !== 'tcp_none').map((f, i) => ({
          sortorder: String(i), color: COLORS[i % COLORS.length], item: { host: name, key: `sockscope.netstat[${f}]` },
        })),
      }],
    },
  });
}
