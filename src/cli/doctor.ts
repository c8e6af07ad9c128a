/**
 * `sockscope doctor`: sample the host's sockets over a window and say what is wrong, who is doing it and what
 * to do (src/doctor). Exit 0 when nothing reached warning, 1 otherwise, 2 for usage and configuration errors.
 */
import { UsageError } from '../errors.js';
import { parseDuration } from './values.js';
import { resolveNetns } from './netns.js';
import { parseOptions } from './options.js';

const HELP = `Usage: sockscope doctor [options]

Samples the host's TCP and UDP sockets and kernel counters twice, a window apart, runs the checks and prints
findings by severity with their evidence, the culprit (process, listener, destination, peer), why it matters
and what to do. Exit status: 0 when nothing is at warning or above, 1 otherwise, 2 for usage errors.

Checks: close_wait, accept_queue, syn_queue, ephemeral_ports, time_wait, orphans, tcp_memory, retransmits,
        stuck_receive_queue, zero_window, syn_sent, udp_drops (see docs/doctor.md)

Options:
  --window DURATION      how long to sample (default 2s, or doctor.window from --config), like 500ms, 5s, 1m
  --format text|json     text (default) or one JSON document {findings: [...], ...}
  --check ID             run only this check (repeatable)
  --config FILE          read thresholds from the [doctor.*] sections of this TOML file
  --no-processes         do not walk /proc to name the processes holding sockets
  --rules prometheus|prometheus-test
                         print Prometheus alert rules for the doctor's metrics (thresholds from --config),
                         or their promtool unit tests, and exit
  -N, --net NAME|PID     diagnose another network namespace (ip netns NAME, a PID, or a path)
  -h, --help             this help
`;

export async function runDoctor(args: string[]): Promise<void> {
  const { values: v } = parseOptions(args, {
    window: { type: 'string' },
    format: { type: 'string' },
    check: { type: 'string', multiple: true },
    config: { type: 'string' },
    'no-processes': { type: 'boolean' },
    rules: { type: 'string' },
    net: { type: 'string', short: 'N' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return void process.stdout.write(HELP);
  const format = v.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be 'text' or 'json', got '${format}'`, { key: 'format', value: format });
  const { CHECK_IDS } = await import('../doctor/definitions.js');
  for (const c of v.check ?? []) {
    if (!(CHECK_IDS as readonly string[]).includes(c)) throw new UsageError(`unknown check '${c}': expected one of ${CHECK_IDS.join(', ')}`, { key: 'check', value: c });
  }
  const { loadConfig, durationMs } = await import('../config/load.js');
  const { config } = loadConfig({ file: v.config, env: process.env });
  const { window: windowText, ...thresholds } = config.doctor;
  if (v.rules !== undefined) {
    if (v.rules !== 'prometheus' && v.rules !== 'prometheus-test') throw new UsageError(`--rules must be 'prometheus' or 'prometheus-test', got '${v.rules}'`, { key: 'rules', value: v.rules });
    const { prometheusRules, prometheusRuleTests } = await import('../doctor/rules.js');
    return void process.stdout.write(v.rules === 'prometheus' ? prometheusRules(thresholds) : prometheusRuleTests(thresholds));
  }
  const windowMs = v.window === undefined ? durationMs(windowText) : parseDuration(v.window, 'window');
  const netns = v.net === undefined ? undefined : resolveNetns(v.net);

  const [{ runDoctor: diagnoseHost, exitStatus }, { renderDoctor, doctorJson }] = await Promise.all([import('../doctor/doctor.js'), import('../doctor/render.js')]);
  const report = await diagnoseHost({
    windowMs, netns, thresholds, checks: v.check as never, processes: !v['no-processes'],
  });
  process.stdout.write(format === 'json' ? doctorJson(report) : renderDoctor(report));
  process.exitCode = exitStatus(report.findings);
}
