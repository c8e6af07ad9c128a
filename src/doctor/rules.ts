/**
 * Prometheus alert rules for the doctor's metrics, generated from the one table (definitions.ts): one rule per
 * measure and level (warning, critical), `sockscope_doctor_<check>_<measure>... >= threshold`, labelled with the
 * severity and the check, annotated with the culprit's labels, the explanation and the advice. With their
 * promtool unit tests: each rule fires at its threshold and not just below it. The metrics are named by
 * metrics.ts (the agent exports them with [collectors.doctor]: src/collectors/doctor.ts). deploy/prometheus holds the output (`sockscope doctor --rules prometheus > deploy/prometheus/sockscope-doctor-rules.yml`, and
 * `--rules prometheus-test` for the tests); a test keeps the files equal to it.
 */
import { stringify } from 'yaml';
import { CHECKS, defaultThresholds, type CheckDefinition, type DoctorThresholds, type MeasureDefinition, type Severity } from './definitions.js';
import { promName } from './metrics.js';

export const DOCTOR_RULES_FILE = 'sockscope-doctor-rules.yml';

const pascal = (s: string) =>
  s
    .split('_')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
const LEVELS: readonly Severity[] = ['warning', 'critical'];
const UNIT_TEXT: Record<MeasureDefinition['unit'], string> = { sockets: ' sockets', percent: '%', per_minute: '/min', connections: ' connections' };

const SUBJECT_TEXT: Record<string, string> = {
  process: 'process {{ $labels.process }} (pid {{ $labels.pid }})',
  listener: 'listener {{ $labels.listener }}',
  local: 'socket {{ $labels.local }}',
  source: 'from {{ $labels.source }}',
  destination: 'to {{ $labels.destination }}',
  peer: 'peer {{ $labels.peer }}',
  netns: 'netns {{ $labels.netns }}',
};

interface Rule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** for the unit tests */
  metric: string;
  threshold: number;
  subject: readonly string[];
}

function rules(thresholds: DoctorThresholds): Rule[] {
  const out: Rule[] = [];
  for (const c of CHECKS as readonly CheckDefinition[]) {
    for (const m of c.measures) {
      for (const level of LEVELS) {
        const t = thresholds[c.id]?.[`${m.name}_${level}`];
        if (t === undefined) continue;
        const metric = `sockscope_${promName(c.id, m)}`;
        out.push({
          alert: `SockscopeDoctor${pascal(c.id)}${pascal(m.name)}${pascal(level)}`,
          expr: `${metric} >= ${t}`,
          labels: { severity: level, check: c.id },
          annotations: {
            summary:
              `{{ $labels.instance }}: ${c.id} ${m.name} = {{ $value }}${UNIT_TEXT[m.unit]} (${level} at ${t}${UNIT_TEXT[m.unit]}), ` +
              m.subject.map((k) => SUBJECT_TEXT[k]).join(', '),
            description: `${m.help}. ${c.explanation}`,
            advice: c.advice,
          },
          metric,
          threshold: t,
          subject: m.subject,
        });
      }
    }
  }
  return out;
}

/**
 * The alert `rule` raises on a series with these labels at this value, as promtool's exp_alerts: its labels and
 * its annotations rendered as Prometheus renders the templates.
 */
function expectedAlert(r: Rule, labels: Record<string, string>, value: number) {
  return {
    exp_labels: { ...labels, severity: r.labels.severity, check: r.labels.check },
    exp_annotations: Object.fromEntries(
      Object.entries(r.annotations).map(([k, text]) => [
        k,
        text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, l: string) => labels[l] ?? '').replace(/\{\{ \$value \}\}/g, String(value)),
      ]),
    ),
  };
}

const HEADER = (what: string) =>
  `# Generated from src/doctor/definitions.ts by \`sockscope doctor --rules ${what}\`: do not edit by hand.\n` +
  `# Thresholds: the definitions' defaults, or the [doctor.*] sections of --config FILE; give the agent the same file\n` +
  `# (its [collectors.doctor] reports an observation from the lowest level configured).\n`;

/** The rules file. */
export function prometheusRules(thresholds: DoctorThresholds = defaultThresholds()): string {
  const groups = [
    {
      name: 'sockscope-doctor',
      rules: rules(thresholds).map(({ alert, expr, labels, annotations }) => ({ alert, expr, labels, annotations })),
    },
  ];
  return HEADER('prometheus') + stringify({ groups }, { lineWidth: 0 });
}

/**
 * A promtool unit test for one series (a metric as the agent exposes it, with its labels, held at `value`):
 * every rule on that metric whose threshold `value` reaches is expected to fire, with its labels and annotations.
 */
export function seriesRuleTest(metric: string, labels: Record<string, string>, value: number, thresholds: DoctorThresholds = defaultThresholds()): string {
  const fired = rules(thresholds).filter((r) => r.metric === metric);
  const test = {
    interval: '1m',
    input_series: [
      {
        series: `${metric}{${Object.entries(labels)
          .map(([k, x]) => `${k}="${x}"`)
          .join(',')}}`,
        values: `${value}x5`,
      },
    ],
    alert_rule_test: fired.map((r) => ({ eval_time: '2m', alertname: r.alert, exp_alerts: value >= r.threshold ? [expectedAlert(r, labels, value)] : [] })),
  };
  return stringify({ rule_files: [DOCTOR_RULES_FILE], evaluation_interval: '1m', tests: [test] }, { lineWidth: 0 });
}

/** promtool unit tests of the rules file: each rule fires at its threshold, and not just below it. */
export function prometheusRuleTests(thresholds: DoctorThresholds = defaultThresholds()): string {
  const tests = rules(thresholds).map((r) => {
    const labels: Record<string, string> = { job: 'sockscope', instance: 'web-1:11979' };
    for (const k of r.subject) {
      if (k === 'process') Object.assign(labels, { process: 'leakysrv', pid: '4242' });
      else labels[k] = k === 'netns' ? 'net:[4026531840]' : `${k}-1`;
    }
    const series = (v: number, extra: Record<string, string>) => ({
      series: `${r.metric}{${Object.entries({ ...labels, ...extra })
        .map(([k, x]) => `${k}="${x}"`)
        .join(',')}}`,
      values: `${v}x5`,
    });
    const below = r.threshold > 0 ? r.threshold / 2 : -1;
    return {
      interval: '1m',
      input_series: [series(r.threshold, {}), series(below, { instance: 'web-2:11979' })],
      alert_rule_test: [
        {
          eval_time: '2m',
          alertname: r.alert,
          exp_alerts: [expectedAlert(r, labels, r.threshold)],
        },
      ],
    };
  });
  return HEADER('prometheus-test') + stringify({ rule_files: [DOCTOR_RULES_FILE], evaluation_interval: '1m', tests }, { lineWidth: 0 });
}
