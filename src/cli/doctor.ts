/**
 * `sockscope doctor`: sample the host's sockets over a window and say what is wrong, who is doing it and what
 * to do (src/doctor). Exit 0 when nothing reached warning, 1 otherwise, 2 for usage and configuration errors.
 */
import { UsageError } from '../errors.js';
import { parseDuration } from './values.js';
import { resolveNetns } from './netns.js';
import { netnsValues, parseCommand } from './options.js';
import { planNetnsCli } from '../netns/options.js';
import type { AllNetnsOptions } from '../netns/all.js';
import type { DoctorNamespace } from '../doctor/doctor.js';
import { commandSpec } from './spec.js';
import { printHelp } from './help.js';

export async function runDoctor(args: string[]): Promise<void> {
  const o = parseCommand(commandSpec('doctor'), args);
  if (o.flag('help')) return printHelp('doctor');
  const v = {
    window: o.str('window'),
    format: o.str('format'),
    check: o.list('check'),
    config: o.str('config'),
    'no-processes': o.flag('no-processes'),
    rules: o.str('rules'),
    net: o.str('net'),
  };
  const format = v.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be 'text' or 'json', got '${format}'`, { key: 'format', value: format });
  const { CHECK_IDS, DEFAULT_WINDOW, defaultThresholds } = await import('../doctor/definitions.js');
  for (const c of v.check ?? []) {
    if (!(CHECK_IDS as readonly string[]).includes(c))
      throw new UsageError(`unknown check '${c}': expected one of ${CHECK_IDS.join(', ')}`, { key: 'check', value: c });
  }
  // the configuration only when something can change the doctor's part of it (a file, SOCKSCOPE_DOCTOR_*):
  // loading and validating the whole agent configuration costs ~0.15 s of CPU, a tenth of the doctor's budget
  let windowText = DEFAULT_WINDOW;
  let thresholds = defaultThresholds();
  if (v.config !== undefined || Object.keys(process.env).some((k) => k.startsWith('SOCKSCOPE_DOCTOR_'))) {
    const { loadConfig } = await import('../config/load.js');
    ({ window: windowText, ...thresholds } = loadConfig({ file: v.config, env: process.env }).config.doctor);
  }
  if (v.rules !== undefined) {
    if (v.rules !== 'prometheus' && v.rules !== 'prometheus-test')
      throw new UsageError(`--rules must be 'prometheus' or 'prometheus-test', got '${v.rules}'`, { key: 'rules', value: v.rules });
    const { prometheusRules, prometheusRuleTests } = await import('../doctor/rules.js');
    return void process.stdout.write(v.rules === 'prometheus' ? prometheusRules(thresholds) : prometheusRuleTests(thresholds));
  }
  const windowMs = parseDuration(v.window ?? windowText, 'window');
  const allNetns = planNetnsCli(netnsValues(o), v.net);
  const netns = v.net === undefined ? undefined : resolveNetns(v.net);

  const [{ runDoctor: diagnoseHost, runDoctorAll, exitStatus }, { renderDoctor, doctorJson }] = await Promise.all([
    import('../doctor/doctor.js'),
    import('../doctor/render.js'),
  ]);
  const options = { windowMs, thresholds, checks: v.check as never, processes: !v['no-processes'] };
  const report = allNetns ? await runDoctorAll(await doctorNamespaces(allNetns), options) : await diagnoseHost({ ...options, netns });
  process.stdout.write(format === 'json' ? doctorJson(report) : renderDoctor(report));
  process.exitCode = exitStatus(report.findings);
}

/**
 * --all-netns (or a selector): the namespaces to diagnose, found, identified and selected by src/netns (the
 * same discovery as `ls --all-netns`), each with the identity its findings carry. The doctor enters each in
 * turn (setns of this thread), so its own is held open first: /proc/thread-self/ns/net moves with the thread.
 */
async function doctorNamespaces(options: AllNetnsOptions): Promise<DoctorNamespace[]> {
  const [{ planNamespaces }, { openSync }] = await Promise.all([import('../netns/all.js'), import('node:fs')]);
  const plan = planNamespaces(options);
  for (const note of plan.notes) process.stderr.write(`sockscope doctor: ${note}\n`);
  return plan.namespaces.map((ns) => ({
    path: ns.own ? `/proc/self/fd/${openSync('/proc/thread-self/ns/net', 'r')}` : ns.path,
    identity: {
      ...(ns.name !== undefined ? { netns_name: ns.name } : {}),
      ...(ns.pod ? { pod: `${ns.pod.namespace}/${ns.pod.name}` } : {}),
      ...(ns.container ? { container: ns.container.name ?? ns.container.id.slice(0, 12) } : {}),
    },
  }));
}
