/**
 * The doctor's checks as metrics, generated from the one table (definitions.ts): one measurement per check
 * (`doctor_<check>`), one field per measure, exposed to Prometheus as `sockscope_doctor_<check>_<measure>_<unit>`
 * with the finding's subject as labels. Every observation above the check's lowest threshold becomes a point,
 * whatever its grade: the alert rules (rules.ts) grade it again from the same thresholds.
 */
import type { MeasurementSchema, Metric } from '../model/metric.js';
import { CHECKS, type CheckDefinition, type MeasureDefinition, type Subject } from './definitions.js';
import type { Finding } from './doctor.js';

const UNIT_SUFFIX: Record<MeasureDefinition['unit'], string> = {
  sockets: 'sockets',
  percent: 'percent',
  per_minute: 'per_minute',
  connections: 'connections',
};

/** `doctor_close_wait_sockets`, `doctor_accept_queue_drops_per_minute` (sockscope_ is added by the serializer) */
export function promName(check: string, m: MeasureDefinition): string {
  const unit = UNIT_SUFFIX[m.unit];
  return m.name === unit || m.name.endsWith(`_${unit}`) ? `doctor_${check}_${m.name}` : `doctor_${check}_${m.name}_${unit}`;
}

export const DOCTOR_SCHEMAS: Readonly<Record<string, MeasurementSchema>> = Object.fromEntries(
  (CHECKS as readonly CheckDefinition[]).map((c) => [
    `doctor_${c.id}`,
    {
      name: `doctor_${c.id}`,
      help: `sockscope doctor: ${c.title}`,
      fields: Object.fromEntries(
        c.measures.map((m) => [
          m.name,
          {
            type: 'float' as const,
            help: m.help,
            prom: { name: promName(c.id, m), help: `${m.help} (sockscope doctor check ${c.id})` },
          },
        ]),
      ),
    },
  ]),
);

/** The subject as tags: process → process (comm) and pid; the rest as they are. */
export function subjectTags(s: Subject): Record<string, string> {
  const tags: Record<string, string> = {};
  if (s.process) {
    tags.process = s.process.comm;
    tags.pid = String(s.process.pid);
  }
  for (const k of ['listener', 'local', 'source', 'destination', 'peer', 'netns'] as const) if (s[k] !== undefined) tags[k] = s[k]!;
  return tags;
}

/** Findings → points (one per finding; the field is its measure). */
export function findingMetrics(findings: readonly Finding[], time: number): Metric[] {
  return findings.map((f) => ({
    schema: DOCTOR_SCHEMAS[`doctor_${f.check}`],
    tags: subjectTags(f.subject),
    fields: { [f.evidence.measure]: f.evidence.value },
    time,
  }));
}
