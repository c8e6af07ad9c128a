/**
 * `sockscope doctor`: two samples a window apart, the checks of definitions.ts over them, and findings graded
 * against the thresholds. diagnose() is pure (a window in, findings out); runDoctor() does the sampling.
 */
import {
  SEVERITIES,
  CHECKS,
  defaultThresholds,
  type CheckDefinition,
  type CheckId,
  type DoctorThresholds,
  type MeasureDefinition,
  type Severity,
  type Subject,
} from './definitions.js';
import { EVALUATE, type DoctorWindow, type Observation } from './checks.js';
import { holdersOf, WantedInodes } from './holders.js';
import type { DoctorSample } from './sample.js';

export interface Evidence {
  /** what was seen, in one line */
  text: string;
  measure: string;
  value: number;
  unit: MeasureDefinition['unit'];
  /** the threshold this finding reached */
  threshold: number;
  thresholds: Partial<Record<Severity, number>>;
  [fact: string]: unknown;
}

export interface Finding {
  check: CheckId;
  severity: Severity;
  subject: Subject;
  evidence: Evidence;
  explanation: string;
  advice: string;
}

export interface DoctorReport {
  findings: Finding[];
  /** what the window really was */
  window_ms: number;
  sockets: number;
  netns: string;
  checks: CheckId[];
  /** what limited the diagnosis (no tcp_info, partial attribution, ...) */
  notes: string[];
  /** --all-netns: the namespaces diagnosed */
  namespaces?: ({ netns: string; sockets: number; window_ms: number } & DoctorNamespace['identity'])[];
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };
const ORDER = new Map<string, number>(CHECKS.map((c, k) => [c.id, k]));

/** The highest level whose threshold `value` reaches, or undefined. */
export function grade(measure: string, value: number, limits: Record<string, number>): { severity: Severity; threshold: number } | undefined {
  for (let k = SEVERITIES.length - 1; k >= 0; k--) {
    const t = limits[`${measure}_${SEVERITIES[k]}`];
    if (t !== undefined && value >= t) return { severity: SEVERITIES[k], threshold: t };
  }
  return undefined;
}

/** Findings of the window, most severe first. */
export function diagnose(w: DoctorWindow, thresholds: DoctorThresholds = defaultThresholds(), checks: readonly CheckId[] = CHECKS.map((c) => c.id)): Finding[] {
  const out: Finding[] = [];
  for (const def of CHECKS as readonly CheckDefinition[]) {
    const id = def.id as CheckId;
    if (!checks.includes(id)) continue;
    const limits = thresholds[id] ?? {};
    for (const o of EVALUATE[id](w, limits)) {
      const g = grade(o.measure, o.value, limits);
      if (g) out.push(finding(def, o, g, limits));
    }
  }
  return sortFindings(out);
}

/** Most severe first, then in the table's order of checks, then the largest value first. */
const sortFindings = (f: Finding[]): Finding[] =>
  f.sort((x, y) => RANK[y.severity] - RANK[x.severity] || ORDER.get(x.check)! - ORDER.get(y.check)! || y.evidence.value - x.evidence.value);

/** The checks with a measure whose subject is a process (the ones that need holders). */
const PROCESS_CHECKS = new Set<string>(
  CHECKS.filter((c) => (c.measures as readonly MeasureDefinition[]).some((m) => m.subject.includes('process'))).map((c) => c.id),
);

function finding(def: CheckDefinition, o: Observation, g: { severity: Severity; threshold: number }, limits: Record<string, number>): Finding {
  const m = def.measures.find((x) => x.name === o.measure)!;
  const thresholds: Partial<Record<Severity, number>> = {};
  for (const s of SEVERITIES) if (limits[`${m.name}_${s}`] !== undefined) thresholds[s] = limits[`${m.name}_${s}`];
  const subject: Subject = {};
  for (const [k, v] of Object.entries(o.subject)) if (v !== undefined) (subject as Record<string, unknown>)[k] = v;
  return {
    check: def.id as CheckId,
    severity: g.severity,
    subject,
    evidence: { text: o.text, measure: m.name, value: o.value, unit: m.unit, threshold: g.threshold, thresholds, ...o.facts },
    explanation: def.explanation,
    advice: o.advice ? `${o.advice} ${def.advice}` : def.advice,
  };
}

/** Whether the finding's measure has a process among its subject keys (the culprit to name). */
function namesProcess(f: Finding): boolean {
  const def = CHECKS.find((c) => c.id === f.check) as CheckDefinition;
  return def.measures.some((m) => m.name === f.evidence.measure && m.subject.includes('process'));
}

/** 0 when nothing reached warning, else 1. */
export const exitStatus = (findings: readonly Finding[]): number => (findings.some((f) => RANK[f.severity] >= RANK.warning) ? 1 : 0);

export interface DoctorOptions {
  windowMs: number;
  /** a namespace file to enter first (-N) */
  netns?: string;
  thresholds?: DoctorThresholds;
  checks?: readonly CheckId[];
  /** attribute sockets to processes (walks /proc/<pid>/fd); default true */
  processes?: boolean;
}

/** One network namespace to diagnose among several (--all-netns): where to enter it, and who it is. */
export interface DoctorNamespace {
  /** a file to setns() into (a bind mount, /proc/<pid>/ns/net, or an open descriptor's /proc/self/fd/<n>) */
  path: string;
  /** added to the subject of every finding in it: the `ip netns` name, the pod, the container */
  identity: Pick<Subject, 'netns_name' | 'pod' | 'container'>;
}

async function sampleIn(path: string | undefined, capacity: number, states?: number): Promise<DoctorSample> {
  const [{ DiagSession }, { takeDoctorSample }] = await Promise.all([import('../snapshot/snapshot.js'), import('./sample.js')]);
  // the session enters the namespace (setns of this thread): the host facts are read there too
  const session = await DiagSession.open(path);
  try {
    return await takeDoctorSample(session, capacity, states);
  } finally {
    session.close();
  }
}

/** Sample, wait, sample, diagnose. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { WINDOW_START_STATES } = await import('./sample.js');
  const a = await sampleIn(options.netns, 1024, WINDOW_START_STATES);
  const remaining = options.windowMs - (performance.now() - a.monotonicMs);
  if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
  const b = await sampleIn(options.netns, Math.ceil(a.length * 1.5) + 1024);
  return reportOf(a, b, options);
}

/**
 * --all-netns: every namespace sampled at the start of one window and again at its end (one after the other,
 * each namespace's window measured on its own samples), then diagnosed one by one; the findings of all of them
 * in one report, each subject naming its namespace. A namespace that cannot be read (it vanished, no
 * permission) is a note, not a failure of the others.
 */
export async function runDoctorAll(namespaces: readonly DoctorNamespace[], options: Omit<DoctorOptions, 'netns'>): Promise<DoctorReport> {
  const { WINDOW_START_STATES } = await import('./sample.js');
  const notes: string[] = [];
  const failed = (ns: DoctorNamespace, e: unknown) => notes.push(`${ns.path}: not diagnosed: ${(e as Error).message}`);
  const first: (DoctorSample | undefined)[] = [];
  for (const ns of namespaces) first.push(await sampleIn(ns.path, 1024, WINDOW_START_STATES).catch((e) => void failed(ns, e)));
  const start = first.find((a) => a)?.monotonicMs ?? performance.now();
  const remaining = options.windowMs - (performance.now() - start);
  if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
  const reports: DoctorReport[] = [];
  for (const [k, ns] of namespaces.entries()) {
    const a = first[k];
    if (!a) continue;
    const b = await sampleIn(ns.path, Math.ceil(a.length * 1.5) + 1024).catch((e) => void failed(ns, e));
    if (!b) continue;
    const r = await reportOf(a, b, options);
    for (const f of r.findings) f.subject = { ...f.subject, ...ns.identity };
    reports.push(r);
  }
  return {
    findings: sortFindings(reports.flatMap((r) => r.findings)),
    window_ms: Math.max(0, ...reports.map((r) => r.window_ms)),
    sockets: reports.reduce((n, r) => n + r.sockets, 0),
    netns: `${reports.length} network namespaces`,
    namespaces: reports.map((r, k) => ({ netns: r.netns, ...namespaces.filter((_, j) => first[j])[k]?.identity, sockets: r.sockets, window_ms: r.window_ms })),
    checks: [...(options.checks ?? CHECKS.map((c) => c.id))],
    notes: [...new Set([...notes, ...reports.flatMap((r) => r.notes)])],
  };
}

/** The report of one namespace's window. */
async function reportOf(a: DoctorSample, b: DoctorSample, options: Omit<DoctorOptions, 'netns'>): Promise<DoctorReport> {
  const netns = b.host.netns;
  const window: DoctorWindow = { a, b, elapsedMs: b.monotonicMs - a.monotonicMs, netns };
  const notes = [...new Set([...a.notes, ...b.notes])];
  const checks = options.checks ?? CHECKS.map((c) => c.id);
  // Without holders first, noting which sockets the checks want a holder for; the /proc walk only when a finding
  // has a process to name, and only until those sockets are found (holders.ts). Then the checks run again.
  const wanted = new WantedInodes();
  window.holders = wanted;
  let findings = diagnose(window, options.thresholds, checks);
  window.holders = undefined;
  if (options.processes !== false && findings.some((f) => namesProcess(f))) {
    const holders = await holdersOf(wanted.inodes, netns);
    window.holders = holders;
    // again, only the checks that name processes
    const again = checks.filter((c) => PROCESS_CHECKS.has(c));
    findings = sortFindings([...findings.filter((f) => !PROCESS_CHECKS.has(f.check)), ...diagnose(window, options.thresholds, again)]);
    const note = holders.note();
    if (note) notes.push(note);
  }
  return {
    findings,
    window_ms: Math.round(window.elapsedMs),
    sockets: b.length,
    netns,
    checks: [...checks],
    notes,
  };
}
