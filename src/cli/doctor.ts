/**
 * `sockscope doctor`: sample the host's sockets over a window and say what is wrong, who is doing it and what
 * to do (src/doctor). Exit 0 when nothing reached warning, 1 otherwise, 2 for usage and configuration errors.
 */
import { UsageError } from '../errors.js';
import { parseDuration } from './values.js';
import { resolveNetns } from './netns.js';
import { parseCommand } from './options.js';
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
  const { CHECK_IDS } = await import('../doctor/definitions.js');
  for (const c of v.check ?? []) {
    if (!(CHECK_IDS as readonly string[]).includes(c))
      throw new UsageError(`unknown check '${c}': expected one of ${CHECK_IDS.join(', ')}`, { key: 'check', value: c });
  }
  const { loadConfig, durationMs } = await import('../config/load.js');
  const { config } = loadConfig({ file: v.config, env: process.env });
  const { window: windowText, ...thresholds } = config.doctor;
  if (v.rules !== undefined) {
    if (v.rules !== 'prometheus' && v.rules !== 'prometheus-test')
      throw new UsageError(`--rules must be 'prometheus' or 'prometheus-test', got '${v.rules}'`, { key: 'rules', value: v.rules });
    const { prometheusRules, prometheusRuleTests } = await import('../doctor/rules.js');
    return void process.stdout.write(v.rules === 'prometheus' ? prometheusRules(thresholds) : prometheusRuleTests(thresholds));
  }
  const windowMs = v.window === undefined ? durationMs(windowText) : parseDuration(v.window, 'window');
  const netns = v.net === undefined ? undefined : resolveNetns(v.net);

  const [{ runDoctor: diagnoseHost, exitStatus }, { renderDoctor, doctorJson }] = await Promise.all([
    import('../doctor/doctor.js'),
    import('../doctor/render.js'),
  ]);
  const report = await diagnoseHost({
    windowMs,
    netns,
    thresholds,
    checks: v.check as never,
    processes: !v['no-processes'],
  });
  process.stdout.write(format === 'json' ? doctorJson(report) : renderDoctor(report));
  process.exitCode = exitStatus(report.findings);
}
