/**
 * The doctor's checks for Zabbix, generated from the one table (definitions.ts) into the Zabbix catalog
 * (src/zabbix/catalog.ts): one item per measure, `sockscope.doctor.<check>.<measure>`, the worst value over its
 * subjects in the gather (0 when nothing was found; not sent when the doctor collector did not run), with a
 * warning and/or a critical trigger whose threshold is a {$SOCKSCOPE.DOCTOR.<CHECK>.<MEASURE>.<LEVEL>} macro
 * holding the table's default. The values come from the agent's doctor metrics (metrics.ts), so Zabbix sees what
 * Prometheus sees; the culprits are in those metrics' labels and in `sockscope doctor` on the host.
 */
import { stringify } from 'yaml';
import type { Metric } from '../model/metric.js';
import type { ItemDef, TriggerDef } from '../zabbix/catalog.js';
import { CHECKS, defaultThresholds, type CheckDefinition, type DoctorThresholds, type Severity } from './definitions.js';
import { DOCTOR_SCHEMAS } from './metrics.js';

const LEVELS: readonly { level: Severity; priority: TriggerDef['priority'] }[] = [{ level: 'warning', priority: 'WARNING' }, { level: 'critical', priority: 'HIGH' }];

export const doctorItemKey = (check: string, measure: string) => `sockscope.doctor.${check}.${measure}`;
const macro = (check: string, measure: string, level: Severity) => `{$SOCKSCOPE.DOCTOR.${check}.${measure}.${level}}`.toUpperCase();

/** The worst value per item key of a gather's doctor metrics; undefined when the doctor collector did not run. */
export function doctorWorst(metrics: readonly Metric[], ran: boolean): Map<string, number> | undefined {
  if (!ran) return undefined;
  const schemas = new Set(Object.values(DOCTOR_SCHEMAS));
  const worst = new Map<string, number>();
  for (const m of metrics) {
    if (!schemas.has(m.schema)) continue;
    const check = m.schema.name.slice('doctor_'.length);
    for (const [measure, v] of Object.entries(m.fields)) {
      const key = doctorItemKey(check, measure);
      if (typeof v === 'number') worst.set(key, Math.max(worst.get(key) ?? 0, v));
    }
  }
  return worst;
}

/** The catalog's items for the doctor (value: from `worst` of GatherFacts.doctor). */
export function doctorItems(read: (facts: never) => Map<string, number> | undefined): ItemDef[] {
  const out: ItemDef[] = [];
  for (const c of CHECKS as readonly CheckDefinition[]) {
    for (const m of c.measures) {
      const key = doctorItemKey(c.id, m.name);
      const triggers: TriggerDef[] = LEVELS.filter(({ level }) => m[level] !== undefined).map(({ level, priority }) => ({
        id: `doctor:${c.id}:${m.name}:${level}`,
        name: `sockscope doctor ${c.id}: ${m.help}, ${level} ({ITEM.LASTVALUE})`,
        expression: `last({item})>=${macro(c.id, m.name, level)}`,
        priority,
        description: `${c.explanation} What to do: ${c.advice} The culprit: run 'sockscope doctor' on the host, or see the labels of sockscope_doctor_* in Prometheus.`,
      }));
      out.push({
        key, name: `Doctor ${c.id}: ${m.name} (${m.unit.replace('_', ' ')}, worst subject)`, valueType: 'FLOAT',
        ...(m.unit === 'percent' ? { units: '%' } : m.unit === 'per_minute' ? { units: '/min' } : {}),
        value: (f) => {
          const worst = read(f as never);
          return worst ? worst.get(key) ?? 0 : undefined;
        },
        ...(triggers.length ? { triggers } : {}),
      });
    }
  }
  return out;
}

/** The macros of the doctor's triggers, with the thresholds' values (the table's defaults unless configured). */
export function doctorMacros(t: DoctorThresholds = defaultThresholds()): { macro: string; value: string; description: string }[] {
  const out: { macro: string; value: string; description: string }[] = [];
  for (const c of CHECKS as readonly CheckDefinition[]) {
    for (const m of c.measures) {
      for (const { level } of LEVELS) {
        const v = t[c.id]?.[`${m.name}_${level}`];
        if (v !== undefined) out.push({ macro: macro(c.id, m.name, level), value: String(v), description: `doctor ${c.id} ${m.name}: ${level} at or above (${m.unit.replace('_', ' ')})` });
      }
    }
  }
  return out;
}

/**
 * `sockscope doctor --rules zabbix|zabbix-passive`: a Zabbix 6.0 template of the doctor's items (DOCTOR_ITEMS of
 * the catalog: the keys the agent sends and answers) with their triggers and macros, to link next to
 * `sockscope zabbix template` on hosts whose agent has [collectors.doctor] enabled.
 */
export async function doctorZabbixTemplate(o: { passive: boolean; thresholds?: DoctorThresholds }): Promise<string> {
  const [{ DOCTOR_ITEMS }, { ITEM_TYPE, uuid }] = await Promise.all([import('../zabbix/catalog.js'), import('../zabbix/template.js')]);
  const name = `sockscope doctor by Zabbix ${o.passive ? 'agent' : 'trapper'}`;
  const type = o.passive ? ITEM_TYPE.passive : ITEM_TYPE.trapper;
  const items = DOCTOR_ITEMS.map((i) => ({
    uuid: uuid(`${name}:${i.key}`), name: i.name, type, key: i.key, ...(o.passive ? { delay: '1m' } : {}),
    value_type: i.valueType, ...(i.units ? { units: i.units } : {}),
    tags: [{ tag: 'component', value: 'doctor' }],
    ...(i.triggers?.length ? {
      triggers: i.triggers.map((t) => ({
        uuid: uuid(`${name}:trigger:${t.id}`), name: t.name, expression: t.expression.replace('{item}', `/${name}/${i.key}`), priority: t.priority,
        ...(t.description ? { description: t.description } : {}),
      })),
    } : {}),
  }));
  return stringify({
    zabbix_export: {
      version: '6.0',
      groups: [{ uuid: uuid('group:Templates/Network'), name: 'Templates/Network' }],
      templates: [{
        uuid: uuid(`${name}:template`), template: name, name,
        description: `The checks of sockscope doctor, from sockscope agent with [collectors.doctor] enabled (${o.passive ? 'polled from --zabbix-listen' : 'pushed by [outputs.zabbix]'}).`,
        groups: [{ name: 'Templates/Network' }],
        items,
        macros: doctorMacros(o.thresholds),
      }],
    },
  });
}
