/**
 * The doctor's checks for Zabbix, generated from the one table (definitions.ts): one item per measure,
 * `sockscope.doctor.<check>.<measure>`, the worst value over its subjects in the gather (0 when none), and
 * `sockscope.doctor.findings`, the findings at warning or above as text naming their culprits; one trigger per
 * measure and level with a {$SOCKSCOPE.DOCTOR.<CHECK>.<MEASURE>.<LEVEL>} macro holding the default threshold.
 * The items are filled from the agent's doctor metrics (metrics.ts), so Zabbix sees what Prometheus sees.
 */
import type { Metric } from '../model/metric.js';
import { CHECKS, defaultThresholds, type CheckDefinition, type DoctorThresholds, type Severity } from './definitions.js';
import { DOCTOR_SCHEMAS } from './metrics.js';

const LEVELS: readonly { level: Severity; priority: string }[] = [{ level: 'warning', priority: 'WARNING' }, { level: 'critical', priority: 'HIGH' }];

export const doctorItemKey = (check: string, measure: string) => `sockscope.doctor.${check}.${measure}`;
export const DOCTOR_FINDINGS_KEY = 'sockscope.doctor.findings';
const macro = (check: string, measure: string, level: Severity) => `{$SOCKSCOPE.DOCTOR.${check}.${measure}.${level}}`.toUpperCase();

export interface ZabbixParts {
  items: Record<string, unknown>[];
  macros: { macro: string; value: string; description: string }[];
}

/** Items with their triggers, and the macros, for the template `templateName` (item type and uuid from it). */
export function doctorZabbixParts(
  templateName: string, item: (key: string, label: string, extra?: Record<string, unknown>) => Record<string, unknown>,
  uuid: (name: string) => string, thresholds: DoctorThresholds = defaultThresholds(),
): ZabbixParts {
  const items: Record<string, unknown>[] = [];
  const macros: ZabbixParts['macros'] = [];
  for (const c of CHECKS as readonly CheckDefinition[]) {
    for (const m of c.measures) {
      const key = doctorItemKey(c.id, m.name);
      const triggers = LEVELS.flatMap(({ level, priority }) => {
        const t = thresholds[c.id]?.[`${m.name}_${level}`];
        if (t === undefined) return [];
        macros.push({ macro: macro(c.id, m.name, level), value: String(t), description: `doctor ${c.id} ${m.name}: ${level} at or above (${m.unit.replace('_', ' ')})` });
        return [{
          uuid: uuid(`${templateName}:trigger:doctor:${c.id}:${m.name}:${level}`),
          name: `sockscope doctor ${c.id}: ${m.help} at ${level} level ({ITEM.LASTVALUE})`,
          expression: `last(/${templateName}/${key})>=${macro(c.id, m.name, level)}`,
          priority,
          description: `${c.explanation} What to do: ${c.advice} The culprits: item ${DOCTOR_FINDINGS_KEY}.`,
        }];
      });
      items.push(item(key, `Doctor ${c.id}: ${m.name} (${m.unit.replace('_', ' ')}, worst subject)`, {
        value_type: 'FLOAT', units: m.unit === 'percent' ? '%' : m.unit === 'per_minute' ? '/min' : '',
        tags: [{ tag: 'component', value: 'doctor' }, { tag: 'check', value: c.id }],
        ...(triggers.length ? { triggers } : {}),
      }));
    }
  }
  items.push(item(DOCTOR_FINDINGS_KEY, 'Doctor findings at warning or above (culprits)', { value_type: 'TEXT', tags: [{ tag: 'component', value: 'doctor' }] }));
  return { items, macros };
}

/**
 * The item values of a gather's doctor metrics, for a gather where the doctor collector ran (0 and "none" when
 * it found nothing, which includes the first gather: no window yet).
 */
export function doctorItemValues(metrics: readonly Metric[], thresholds: DoctorThresholds = defaultThresholds()): Map<string, string> {
  const out = new Map<string, string>();
  const schemas = new Set(Object.values(DOCTOR_SCHEMAS));
  const doctor = metrics.filter((m) => schemas.has(m.schema));
  const lines: string[] = [];
  for (const c of CHECKS as readonly CheckDefinition[]) {
    for (const m of c.measures) {
      let worst = 0;
      for (const x of doctor) {
        const v = x.schema.name === `doctor_${c.id}` ? x.fields[m.name] : undefined;
        if (typeof v !== 'number') continue;
        worst = Math.max(worst, v);
        const t = thresholds[c.id] ?? {};
        const level = v >= (t[`${m.name}_critical`] ?? Infinity) ? 'critical' : v >= (t[`${m.name}_warning`] ?? Infinity) ? 'warning' : undefined;
        if (level) lines.push(`${level} ${c.id} ${m.name}=${v}: ${Object.entries(x.tags).filter(([k]) => k !== 'host').map(([k, val]) => `${k}=${val}`).join(' ')}`);
      }
      out.set(doctorItemKey(c.id, m.name), String(worst));
    }
  }
  out.set(DOCTOR_FINDINGS_KEY, lines.length ? lines.join('\n') : 'none');
  return out;
}
