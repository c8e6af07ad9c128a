/**
 * `sockscope agent` and `sockscope config sample|show`. The agent logs structured JSON (pino) on stderr:
 * quiet at the default level (start, stop, reloads and changes of state only).
 */
import { UsageError } from '../errors.js';
import { parseCommand } from './options.js';
import { commandSpec } from './spec.js';
import { printHelp } from './help.js';

function load(args: string[], command: 'agent' | 'config show') {
  const v = parseCommand(commandSpec(command), args);
  return {
    help: v.flag('help'),
    logLevel: v.str('log-level') ?? 'info',
    format: v.str('format') ?? 'toml',
    input: {
      file: v.str('config'),
      env: process.env,
      flags: {
        listen: v.list('listen'),
        interval: v.str('interval'),
        webConfig: v.str('web-config'),
        influxdbUrls: v.list('influxdb-url'),
        stdout: v.flag('stdout') || undefined,
        hostname: v.str('hostname'),
        zabbixListen: v.list('zabbix-listen'),
        zabbixAllow: v.list('zabbix-allow'),
        allNetns: v.flag('all-netns') || undefined,
      },
    },
  };
}

/** A command's --format that only has one value (config sample, zabbix): anything else is a usage error. */
export function onlyFormat(value: string | undefined, format: string): void {
  if (value !== undefined && value !== format)
    throw new UsageError(`--format must be ${format} (the only format of this command), got '${value}'`, { key: 'format', value });
}

export async function runConfig(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError("config needs a command: 'sample' or 'show'. See 'sockscope config --help'.");
  if (sub === '--help' || sub === '-h') return printHelp('config');
  if (sub === 'sample') {
    const o = parseCommand(commandSpec('config sample'), rest);
    if (o.flag('help')) return printHelp('config sample');
    onlyFormat(o.str('format'), 'toml');
    const { SAMPLE_CONFIG } = await import('../config/sample.js');
    process.stdout.write(SAMPLE_CONFIG);
    return;
  }
  if (sub === 'show') {
    const a = load(rest, 'config show');
    if (a.help) return printHelp('config show');
    if (a.format !== 'toml' && a.format !== 'json')
      throw new UsageError(`--format must be one of toml, json, got '${a.format}'`, { key: 'format', value: a.format });
    const [{ loadConfig }, { showConfig, showConfigJson }] = await Promise.all([import('../config/load.js'), import('../config/show.js')]);
    const loaded = loadConfig(a.input);
    for (const w of loaded.warnings) process.stderr.write(`sockscope: warning: ${w}\n`);
    process.stdout.write(a.format === 'json' ? showConfigJson(loaded) : showConfig(loaded));
    return;
  }
  throw new UsageError(`unknown config command '${sub}': expected 'sockscope config sample' or 'sockscope config show'. See 'sockscope config --help'.`, {
    key: 'command',
    value: sub,
  });
}

export async function runAgent(args: string[]): Promise<void> {
  const a = load(args, 'agent');
  if (a.help) return printHelp('agent');
  if (!['error', 'warn', 'info', 'debug'].includes(a.logLevel)) throw new UsageError(`--log-level must be error, warn, info or debug, got '${a.logLevel}'`);
  const [{ loadConfig }, { Agent }, { VERSION }, { default: pino }] = await Promise.all([
    import('../config/load.js'),
    import('../agent/agent.js'),
    import('../version.js'),
    import('pino'),
  ]);
  const loaded = loadConfig(a.input); // invalid: exits 2 before anything starts
  const prom = loaded.config.outputs.prometheus;
  if (prom.enabled && prom.web_config_file) (await import('../agent/web-config.js')).loadWebConfig(prom.web_config_file); // so is a bad web config
  const logger = pino({ level: a.logLevel, base: { name: 'sockscope' } }, pino.destination({ fd: 2, sync: true }));
  const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => logger[level](fields, msg);
  for (const w of loaded.warnings) log('warn', w);
  const agent = new Agent(loaded, { version: VERSION, log, reload: () => loadConfig(a.input) });
  // Handlers first: a signal during start-up must not kill the agent with the default action.
  let started = false;
  let stopping = false;
  let keepAlive: NodeJS.Timeout | undefined;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(keepAlive); // stopping: the process ends when agent.stop() is done, or when nothing is left to do
    log('info', 'stopping', { signal });
    await agent.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (started) void agent.reload();
    else log('warn', 'SIGHUP during start-up ignored: send it again once the agent has started');
  });
  try {
    await agent.start();
  } catch (e) {
    await agent.stop().catch(() => undefined); // the worker and any listener already open would keep the process alive
    throw e;
  }
  started = true;
  // the agent runs until a signal stops it, whatever its outputs: one with only stdout or InfluxDB has no
  // listener to keep the process alive (its gather timer is unref'd), and used to exit after the first gather
  if (!stopping) keepAlive = setInterval(() => undefined, 1 << 30);
  log('info', 'sockscope agent started', { version: VERSION, interval: loaded.config.agent.interval });
}
