/**
 * `sockscope zabbix template [--passive]`: a Zabbix 6.0 YAML template (zabbix_export version '6.0') generated
 * from the catalog (catalog.ts), the same tables the trapper push and the passive answers are made from:
 * items (Zabbix trapper, or Zabbix agent polled every minute for the passive variant), the two LLD rules with
 * their item and trigger prototypes, triggers with {$MACROS} thresholds (CLOSE_WAIT growing, listen backlog
 * near full, TIME_WAIT near the ephemeral port range) and a graph of TCP states. UUIDs are derived from names
 * (UUIDv4 shaped), so the same template imports as the same objects every time.
 *
 * Every constant is one of Zabbix's CXmlConstantName (include/classes/xml/CXmlConstantName.php): item types
 * TRAP, ZABBIX_PASSIVE and CALCULATED, value types UNSIGNED and FLOAT, priorities WARNING and HIGH.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { DISCOVERY, ITEMS, MACROS, MULTI_ITEM_TRIGGERS, prototypeKey, type Preprocessing, type TriggerDef, type ValueType } from './catalog.js';

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

/** Zabbix's import constants (CXmlConstantName) for the item types. */
export const ITEM_TYPE = { trapper: 'TRAP', passive: 'ZABBIX_PASSIVE', calculated: 'CALCULATED' } as const;

export function templateName(passive: boolean): string {
  return passive ? 'sockscope by Zabbix agent' : 'sockscope by Zabbix trapper';
}

export function zabbixTemplate(o: { passive: boolean }): string {
  const name = templateName(o.passive);
  const type = o.passive ? ITEM_TYPE.passive : ITEM_TYPE.trapper;
  const polled = (delay: string) => (o.passive ? { delay } : {});
  const ref = (key: string) => `/${name}/${key}`;
  const triggers = (defs: readonly TriggerDef[] | undefined, key: string) =>
    defs?.length
      ? {
          triggers: defs.map((t) => ({
            uuid: uuid(`${name}:trigger:${t.id}`),
            name: t.name,
            expression: t.expression.replaceAll('{item}', ref(key)),
            priority: t.priority,
            ...(t.description ? { description: t.description } : {}),
          })),
        }
      : {};
  const valueType = (v: ValueType, units?: string) => ({ value_type: v, ...(units ? { units } : {}) });
  // CXmlConstantName: CHANGE_PER_SECOND takes no parameter, exported as one empty string
  const preprocessing = (p?: Preprocessing) => (p === 'perSecond' ? { preprocessing: [{ type: 'CHANGE_PER_SECOND', parameters: [''] }] } : {});
  const items = ITEMS.map((i) => ({
    uuid: uuid(`${name}:${i.key}`),
    name: i.name,
    type,
    key: i.key,
    ...polled('1m'),
    ...valueType(i.valueType, i.units),
    ...preprocessing(i.preprocessing),
    ...(i.description ? { description: i.description } : {}),
    tags: [{ tag: 'component', value: i.collector === 'doctor' ? 'doctor' : 'sockets' }],
    ...triggers(i.triggers, i.key),
  }));
  const discoveryRules = DISCOVERY.map((r) => ({
    uuid: uuid(`${name}:lld:${r.id}`),
    name: r.name,
    type,
    key: r.key,
    ...polled('1h'),
    lifetime: '{$SOCKSCOPE.LLD.LIFETIME}',
    item_prototypes: r.prototypes.map((p) => {
      const key = prototypeKey(r, r.macro, p.field);
      return {
        // the port groups' prototypes keep the uuids they had before the listening ports got prototypes of their own
        uuid: uuid(r.id === 'portgroups' ? `${name}:proto:${p.field}` : `${name}:proto:${r.id}:${p.field}`),
        name: `${r.label}: ${p.name}`,
        // a calculated prototype: the server computes it from the formula (in both templates)
        ...(p.calculated ? { type: ITEM_TYPE.calculated, key, delay: p.calculated.delay, params: p.calculated.formula } : { type, key, ...polled('1m') }),
        ...valueType(p.valueType, p.units),
        ...preprocessing(p.preprocessing),
        tags: [{ tag: 'port', value: r.macro }],
      };
    }),
    ...(r.prototypes.some((p) => p.triggers)
      ? {
          trigger_prototypes: r.prototypes.flatMap((p) =>
            (p.triggers ?? []).map((t) => ({
              uuid: uuid(`${name}:trigger-proto:${t.id}`),
              name: t.name,
              expression: t.expression.replaceAll('{item}', ref(prototypeKey(r, r.macro, p.field))),
              priority: t.priority,
            })),
          ),
        }
      : {}),
  }));
  const template = {
    uuid: uuid(`${name}:template`),
    template: name,
    name,
    description: `Socket states from sockscope. ${o.passive ? 'Polled from sockscope agent --zabbix-listen.' : 'Pushed by sockscope agent with [outputs.zabbix] or sockscope zabbix send.'}`,
    groups: [{ name: 'Templates/Network' }],
    items,
    discovery_rules: discoveryRules,
    macros: MACROS,
  };
  return stringify({
    zabbix_export: {
      version: '6.0',
      groups: [{ uuid: uuid('group:Templates/Network'), name: 'Templates/Network' }],
      templates: [template],
      triggers: MULTI_ITEM_TRIGGERS.map((t) => ({
        uuid: uuid(`${name}:trigger:${t.id}`),
        name: t.name,
        expression: t.expression.replace(/\{(sockscope\.[^}]+)\}/g, (_, key: string) => ref(key)),
        priority: t.priority,
      })),
      graphs: [
        {
          uuid: uuid(`${name}:graph:states`),
          name: 'TCP states',
          graph_items: ITEMS.filter((i) => i.graphed).map((i, n) => ({
            sortorder: String(n),
            color: COLORS[n % COLORS.length],
            item: { host: name, key: i.key },
          })),
        },
      ],
    },
  });
}
