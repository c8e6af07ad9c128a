/**
 * `sockscope agent` and `sockscope config sample|show`. The agent logs structured JSON (pino) on stderr:
 * quiet at the default level (start, stop, reloads and changes of state only).
 */
import { UsageError } from '../errors.js';
import { parseOptions } from './options.js';

export const AGENT_HELP = `Usage: sockscope agent [options]
       sockscope config sample            a fully commented configuration with every default
       sockscope config show [options]    the effective configuration and where each value came from

The long-running collector: gathers every interval and serves /metrics (Prometheus text or OpenMetrics),
/healthz, /api/snapshot; optionally pushes to InfluxDB and writes line protocol to stdout.
With no configuration: Prometheus endpoint on 127.0.0.1:11979, netstat + netstat_port.

Options:
  --config FILE            a TOML file (sockscope's own sections, or DataKit's [[inputs.netstat]])
  --listen ADDR:PORT       where to serve /metrics (repeatable)
  --interval DURATION      how often to gather (e.g. 10s)
  --web-config FILE        Prometheus exporter-toolkit web config (TLS, basic auth)
  --influxdb-url URL       push to InfluxDB (repeatable; enables the output)
  --stdout                 write line protocol to stdout too
  --hostname NAME          the host tag
  --zabbix-listen ADDR:PORT  answer Zabbix passive checks here (repeatable; enables [zabbix_agent])
  --zabbix-allow LIST      addresses/CIDRs allowed to ask (comma-separated; default loopback)
  --all-netns              every network namespace (enables [netns]; see docs/namespaces.md)
  --log-level LEVEL        error, warn, info (default), debug

Environment: SOCKSCOPE_<SECTION>_<KEY> for every setting (e.g. SOCKSCOPE_AGENT_INTERVAL=30s,
SOCKSCOPE_OUTPUTS_INFLUXDB_URLS=http://db:8086), and DataKit's ENV_INPUT_NETSTAT_TAGS,
ENV_INPUT_NETSTAT_INTERVAL, ENV_INPUT_NETSTAT_ADDR_PORTS. Precedence: flags > environment > file > defaults.
Signals: SIGHUP reloads the configuration; SIGTERM flushes outputs and exits 0. See docs/agent.md.
`;

const OPTIONS = {
  config: { type: 'string' }, listen: { type: 'string', multiple: true }, interval: { type: 'string' },
  'web-config': { type: 'string' }, 'influxdb-url': { type: 'string', multiple: true }, stdout: { type: 'boolean' },
  hostname: { type: 'string' }, 'log-level': { type: 'string' }, 'zabbix-listen': { type: 'string', multiple: true },
  'zabbix-allow': { type: 'string', multiple: true }, 'all-netns': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

function load(args: string[]) {
  const { values: v } = parseOptions(args, OPTIONS);
  return {
    help: !!v.help,
    logLevel: v['log-level'] ?? 'info',
    input: {
      file: v.config,
      env: process.env,
      flags: {
        listen: v.listen, interval: v.interval, webConfig: v['web-config'], influxdbUrls: v['influxdb-url'], stdout: v.stdout,
        hostname: v.hostname, zabbixListen: v['zabbix-listen'], zabbixAllow: v['zabbix-allow'], allNetns: v['all-netns'],
      },
    },
  };
}

export async function runConfig(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'sample') {
    const { SAMPLE_CONFIG } = await import('../config/sample.js');
    process.stdout.write(SAMPLE_CONFIG);
    return;
  }
  if (sub === 'show') {
    const a = load(rest);
    if (a.help) return void process.stdout.write(AGENT_HELP);
    const [{ loadConfig }, { showConfig }] = await Promise.all([import('../config/load.js'), import('../config/show.js')]);
    process.stdout.write(showConfig(loadConfig(a.input)));
    return;
  }
  throw new UsageError(`unknown config command '${sub ?? ''}': expected 'sockscope config sample' or 'sockscope config show'`);
}

export async function runAgent(args: string[]): Promise<void> {
  const a = load(args);
  if (a.help) return void process.stdout.write(AGENT_HELP);
  if (!['error', 'warn', 'info', 'debug'].includes(a.logLevel)) throw new UsageError(`--log-level must be error, warn, info or debug, got '${a.logLevel}'`);
  const [{ loadConfig }, { Agent }, { VERSION }, { default: pino }] = await Promise.all([
    import('../config/load.js'), import('../agent/agent.js'), import('../version.js'), import('pino'),
  ]);
  const loaded = loadConfig(a.input); // invalid: exits 2 before anything starts
  const prom = loaded.config.outputs.prometheus;
  if (prom.enabled && prom.web_config_file) (await import('../agent/web-config.js')).loadWebConfig(prom.web_config_file); // so is a bad web config
  const logger = pino({ level: a.logLevel, base: { name: 'sockscope' } }, pino.destination({ fd: 2, sync: true }));
  const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => logger[level](fields, msg);
  const agent = new Agent(loaded, { version: VERSION, log, reload: () => loadConfig(a.input) });
  // Handlers first: a signal during start-up must not kill the agent with the default action.
  let started = false;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
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
  log('info', 'sockscope agent started', { version: VERSION, interval: loaded.config.agent.interval });
}
