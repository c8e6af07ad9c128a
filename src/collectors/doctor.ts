/**
 * doctor: `sockscope doctor`'s checks as metrics, one measurement per check (`doctor_<check>`, one field per
 * measure, the finding's subject as tags; src/doctor/metrics.ts), from the same table (src/doctor/definitions.ts)
 * as the generated Prometheus rules. The window is the interval between two gathers: each gather's sample is
 * compared with the previous one, which the gathering thread keeps (a host fact: src/doctor/history.ts), and
 * the namespace's counters and sysctls come in as a host fact too. Every observation that reaches a level
 * (info, warning or critical) is a point; the rules grade it again. Naming the process behind a finding takes
 * a /proc walk per gather: off unless `processes = true`.
 */
import { Ext } from '../diag/constants.js';
import { defaultThresholds, type DoctorThresholds } from '../doctor/definitions.js';
import { diagnose } from '../doctor/doctor.js';
import { DOCTOR_SCHEMAS, findingMetrics } from '../doctor/metrics.js';
import { sampleOfTable } from '../doctor/sample.js';
import { defineCollector, type HostFactName } from './collector.js';

/** The doctor options of a gather (plain data: it crosses to the agent's gather worker). */
export interface DoctorCollectorOptions {
  /** name the process behind a finding (a /proc walk per gather) */
  processes: boolean;
  /** the config file's [doctor.*] thresholds (the agent's gatherConfigOf); the definitions' defaults without */
  thresholds?: DoctorThresholds;
}

declare module './collector.js' {
  interface GatherConfig {
    doctor?: DoctorCollectorOptions;
  }
}

export interface DoctorSection {
  processes: boolean;
}

export const doctorCollector = defineCollector<DoctorCollectorOptions, DoctorSection, 'doctor'>({
  name: 'doctor',
  enabledByDefault: false,
  schemas: Object.values(DOCTOR_SCHEMAS),
  options: (c) => c.doctor ?? { processes: false },
  // the doctor's sample: TCP and UDP with tcp_info and the socket's drop counter
  needs: () => ({ protocols: ['tcp', 'udp'], table: true, ext: Ext.info | Ext.skmeminfo }),
  facts: (o): HostFactName[] => (o.processes ? ['doctorNamespace', 'doctorHistory', 'holders'] : ['doctorNamespace', 'doctorHistory']),
  collect(s, facts, sink, o) {
    const history = facts.doctorHistory;
    if (!history) throw new Error('doctor compares a gather with the previous one: it runs in the agent, not in a one-shot gather (use `sockscope doctor`)');
    const sample = sampleOfTable(s.table!, s.time, facts.doctorNamespace!);
    const a = history.previous;
    history.previous = sample;
    if (!a || s.time <= a.monotonicMs) return; // the first gather starts the window
    const findings = diagnose(
      { a, b: sample, elapsedMs: s.time - a.monotonicMs, netns: sample.host.netns, holders: facts.holders },
      o.thresholds ?? defaultThresholds(),
    );
    for (const m of findingMetrics(findings, s.time)) sink.metric(m);
  },
  config: {
    about:
      'The checks of `sockscope doctor` (docs/doctor.md) between two gathers, one gauge per finding with its subject as labels, for the generated alert rules (deploy/prometheus/sockscope-doctor-rules.yml).',
    defaults: { processes: false },
    schema: { processes: { type: 'boolean' } },
    sample: `  ## Name the process (process, pid labels) behind a finding: walks /proc/*/fd at every gather.
  processes = false
`,
    gather: (s) => ({ doctor: { processes: s.processes } }),
  },
});
