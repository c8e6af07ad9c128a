/**
 * The effective agent configuration: defaults < TOML file < environment < flags, each value remembering
 * where it came from (`sockscope config show`). Validated once, before anything starts: a bad value is a
 * SockscopeError ESOCKSCOPE_CONFIG (exit 2) naming the key, the value, its source and what was expected.
 *
 * Environment: SOCKSCOPE_<PATH> for every setting (SOCKSCOPE_AGENT_INTERVAL, SOCKSCOPE_OUTPUTS_PROMETHEUS_LISTEN,
 * ...; lists comma-separated or JSON, tags "k=v,k2=v2", addr_ports JSON), and DataKit's Kubernetes variables
 * ENV_INPUT_NETSTAT_TAGS ("k=v,k2=v2"), ENV_INPUT_NETSTAT_INTERVAL ("10s"), ENV_INPUT_NETSTAT_ADDR_PORTS
 * ('["1.1.1.1:80","443"]', one group). SOCKSCOPE_* wins over DataKit's.
 */
import { parseDuration } from '../util/duration.js';
import { parseTags } from '../util/tags.js';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseToml, type TomlError } from 'smol-toml';
import { gatherConfigFromSections } from '../collectors/registry.js';
import { isSockscopeError, SockscopeError, systemErrorFacts } from '../errors.js';
import { CONFIG_SCHEMA, DEFAULTS, type AgentConfig } from './defaults.js';

export interface FlagOverrides {
  listen?: string[];
  interval?: string;
  webConfig?: string;
  influxdbUrls?: string[];
  stdout?: boolean;
  hostname?: string;
  zabbixListen?: string[];
  zabbixAllow?: string[];
  allNetns?: boolean;
}

export interface LoadedConfig {
  config: AgentConfig;
  /** dotted path → "default" | "file PATH" | "env NAME" | "flag --NAME" */
  origins: Map<string, string>;
  /** what was ignored (an unknown SOCKSCOPE_* variable outside the settings' sections) */
  warnings: string[];
}

/** SOCKSCOPE_* variables that are not settings: read elsewhere (the CLI, ls -r) or by the test tools. */
const OTHER_VARIABLES = new Set(['SOCKSCOPE_DEBUG', 'SOCKSCOPE_DNS_SERVERS']);

type Json = Record<string, unknown>;

const isTable = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf path of the defaults (a leaf: a primitive, an array, or a free-form table like tags). */
function leafPaths(obj: Json, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (isTable(v) && k !== 'tags') out.push(...leafPaths(v, [...prefix, k]));
    else out.push([...prefix, k]);
  }
  return out;
}
export const LEAVES = leafPaths(DEFAULTS as unknown as Json);
const dotted = (p: string[]) => p.join('.');
export const envName = (p: string[]) => `SOCKSCOPE_${p.join('_').toUpperCase()}`;

function get(obj: Json, p: string[]): unknown {
  return p.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Json)[k] : undefined), obj); // arrays too (addr_ports[0])
}
function set(obj: Json, p: string[], value: unknown): void {
  let o = obj;
  for (const k of p.slice(0, -1)) o = (o[k] ??= {}) as Json;
  o[p[p.length - 1]] = value;
}

function configError(path: string, value: unknown, origin: string, expected: string): SockscopeError {
  return new SockscopeError('ESOCKSCOPE_CONFIG', `config: ${path} = ${JSON.stringify(value)} (from ${origin}): expected ${expected}`, {
    key: path,
    value,
    origin,
  });
}

/** Merge a parsed table into the config, recording origins for every leaf it sets; unknown keys go to errs. */
function mergeInto(config: Json, origins: Map<string, string>, source: Json, origin: string, errs: SockscopeError[], prefix: string[] = []): void {
  for (const [k, v] of Object.entries(source)) {
    const p = [...prefix, k];
    const known = LEAVES.some((l) => dotted(l) === dotted(p));
    if (isTable(v) && !known) {
      if (!LEAVES.some((l) => dotted(l).startsWith(`${dotted(p)}.`))) {
        errs.push(configError(dotted(p), v, origin, `one of the known settings (see 'sockscope config sample')`));
        continue;
      }
      mergeInto(config, origins, v, origin, errs, p);
    } else {
      if (!known) {
        errs.push(configError(dotted(p), v, origin, `one of the known settings (see 'sockscope config sample')`));
        continue;
      }
      set(config, p, v);
      origins.set(dotted(p), origin);
    }
  }
}

/** DataKit's [[inputs.netstat]] blocks, taken as they are written for DataKit. */
function fromDataKit(file: Json, origin: string, config: Json, origins: Map<string, string>, errs: SockscopeError[]): void {
  const inputs = file.inputs;
  if (inputs === undefined) return;
  const list = isTable(inputs) ? inputs.netstat : undefined;
  const blocks = Array.isArray(list) ? list : isTable(list) ? [list] : undefined;
  if (!blocks) return void errs.push(configError('inputs', inputs, origin, '[[inputs.netstat]] blocks (DataKit syntax)'));
  for (const b of blocks) {
    if (!isTable(b)) continue;
    for (const [k, v] of Object.entries(b)) {
      if (k === 'interval') mergeInto(config, origins, { agent: { interval: v } }, `${origin} [[inputs.netstat]]`, errs);
      else if (k === 'addr_ports') mergeInto(config, origins, { collectors: { netstat_port: { addr_ports: v } } }, `${origin} [[inputs.netstat]]`, errs);
      else if (k === 'tags')
        mergeInto(config, origins, { agent: { tags: { ...(get(config, ['agent', 'tags']) as Json), ...(v as Json) } } }, `${origin} [[inputs.netstat]]`, errs);
      else errs.push(configError(`inputs.netstat.${k}`, v, origin, 'interval, addr_ports or tags (the DataKit netstat settings sockscope reads)'));
    }
  }
}

function parseTagList(text: string, name: string): Record<string, string> {
  return parseTags(text, () => configError(name, text, `env ${name}`, 'tags as key=value,key2=value2'));
}

/** An environment string as the type the default has. */
function fromEnv(text: string, path: string[], name: string): unknown {
  const def = get(DEFAULTS as unknown as Json, path);
  const origin = `env ${name}`;
  if (typeof def === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(text)) return true;
    if (/^(false|0|no|off)$/i.test(text)) return false;
    throw configError(dotted(path), text, origin, 'true or false');
  }
  if (typeof def === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw configError(dotted(path), text, origin, 'a number');
    return n;
  }
  if (path[path.length - 1] === 'tags') {
    if (!text.trim().startsWith('{')) return parseTagList(text, name);
    try {
      return JSON.parse(text);
    } catch {
      throw configError(dotted(path), text, origin, 'tags as key=value,key2=value2 or a JSON object');
    }
  }
  if (Array.isArray(def)) {
    const t = text.trim();
    if (t.startsWith('[')) {
      try {
        return JSON.parse(t);
      } catch {
        throw configError(dotted(path), text, origin, 'a JSON array, or a comma-separated list');
      }
    }
    if (path[path.length - 1] === 'addr_ports') throw configError(dotted(path), text, origin, 'a JSON array of port groups, e.g. [{"ports":["80","443"]}]');
    return t === '' ? [] : t.split(',').map((x) => x.trim());
  }
  return text;
}

/** Runs a check: its SockscopeError goes to errs and the next check still runs (every error is reported). */
const collectInto =
  (errs: SockscopeError[]) =>
  (f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (e instanceof SockscopeError) errs.push(e);
      else throw e;
    }
  };

export function loadConfig(input: { file?: string; env?: NodeJS.ProcessEnv; flags?: FlagOverrides } = {}): LoadedConfig {
  const config = structuredClone(DEFAULTS) as unknown as Json;
  const origins = new Map<string, string>(LEAVES.map((l) => [dotted(l), 'default']));
  const errs: SockscopeError[] = [];
  const warnings: string[] = [];
  const collect = collectInto(errs);
  if (input.file) {
    const origin = `file ${input.file}`;
    let text: string;
    try {
      text = readFileSync(input.file, 'utf8');
    } catch (e) {
      throw new SockscopeError('ESOCKSCOPE_CONFIG', `config: cannot read ${input.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        key: 'config',
        value: input.file,
        ...systemErrorFacts(e),
      });
    }
    let parsed: Json;
    try {
      parsed = parseToml(text) as Json;
    } catch (e) {
      const t = e as TomlError;
      throw new SockscopeError(
        'ESOCKSCOPE_CONFIG',
        `config: ${input.file} is not valid TOML: ${t.message.split('\n')[0]}${t.line ? ` (line ${t.line}, column ${t.column})` : ''}`,
        { key: 'config', value: input.file, line: t.line, column: t.column },
      );
    }
    const { inputs, ...ours } = parsed;
    mergeInto(config, origins, ours, origin, errs);
    if (inputs !== undefined) fromDataKit({ inputs }, origin, config, origins, errs);
  }
  const env = input.env ?? {};
  // DataKit's variables first, so SOCKSCOPE_* set afterwards win
  if (env.ENV_INPUT_NETSTAT_INTERVAL)
    mergeInto(config, origins, { agent: { interval: env.ENV_INPUT_NETSTAT_INTERVAL } }, 'env ENV_INPUT_NETSTAT_INTERVAL', errs);
  if (env.ENV_INPUT_NETSTAT_TAGS) {
    collect(() => {
      const tags = { ...(get(config, ['agent', 'tags']) as Json), ...parseTagList(env.ENV_INPUT_NETSTAT_TAGS!, 'ENV_INPUT_NETSTAT_TAGS') };
      mergeInto(config, origins, { agent: { tags } }, 'env ENV_INPUT_NETSTAT_TAGS', errs);
    });
  }
  if (env.ENV_INPUT_NETSTAT_ADDR_PORTS)
    collect(() => {
      let ports: unknown;
      try {
        ports = JSON.parse(env.ENV_INPUT_NETSTAT_ADDR_PORTS!);
      } catch {
        throw configError(
          'collectors.netstat_port.addr_ports',
          env.ENV_INPUT_NETSTAT_ADDR_PORTS,
          'env ENV_INPUT_NETSTAT_ADDR_PORTS',
          'a JSON array of strings, e.g. ["1.1.1.1:80","443"]',
        );
      }
      mergeInto(config, origins, { collectors: { netstat_port: { addr_ports: [{ ports }] } } }, 'env ENV_INPUT_NETSTAT_ADDR_PORTS', errs);
    });
  for (const path of LEAVES) {
    const name = envName(path);
    const text = env[name];
    if (text === undefined) continue;
    collect(() => {
      set(config, path, fromEnv(text, path, name));
      origins.set(dotted(path), `env ${name}`);
    });
  }
  unknownVariables(env, errs, warnings);
  const f = input.flags ?? {};
  const flag = (path: string, value: unknown, name: string) => {
    set(config, path.split('.'), value);
    origins.set(path, `flag --${name}`);
  };
  if (f.listen?.length) flag('outputs.prometheus.listen', f.listen, 'listen');
  if (f.interval !== undefined) flag('agent.interval', f.interval, 'interval');
  if (f.webConfig !== undefined) flag('outputs.prometheus.web_config_file', f.webConfig, 'web-config');
  if (f.influxdbUrls?.length) {
    flag('outputs.influxdb.urls', f.influxdbUrls, 'influxdb-url');
    flag('outputs.influxdb.enabled', true, 'influxdb-url');
  }
  if (f.stdout) flag('outputs.stdout.enabled', true, 'stdout');
  if (f.hostname !== undefined) flag('agent.hostname', f.hostname, 'hostname');
  if (f.zabbixListen?.length) {
    flag('zabbix_agent.listen', f.zabbixListen, 'zabbix-listen');
    flag('zabbix_agent.enabled', true, 'zabbix-listen');
  }
  if (f.zabbixAllow?.length)
    flag(
      'zabbix_agent.allow',
      f.zabbixAllow
        .flatMap((x) => x.split(','))
        .map((x) => x.trim())
        .filter(Boolean),
      'zabbix-allow',
    );
  if (f.allNetns) flag('netns.enabled', true, 'all-netns');
  validate(config as unknown as AgentConfig, origins, errs);
  if (errs.length === 1) throw errs[0];
  if (errs.length > 1) {
    throw new SockscopeError('ESOCKSCOPE_CONFIG', errs.map((e) => e.message).join('\n'), { key: errs[0].facts.key, errors: errs.map((e) => e.facts) });
  }
  return { config: config as unknown as AgentConfig, origins, warnings };
}

const ENV_NAMES = LEAVES.map(envName);
const SECTION_PREFIXES = Object.keys(DEFAULTS).map((k) => `SOCKSCOPE_${k.toUpperCase()}_`);

/**
 * SOCKSCOPE_* variables that name no setting: inside a settings section (SOCKSCOPE_AGENT_INTERVALL) an error,
 * as an unknown key in the file is; elsewhere a warning (nothing reads them).
 */
function unknownVariables(env: NodeJS.ProcessEnv, errs: SockscopeError[], warnings: string[]): void {
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('SOCKSCOPE_') || ENV_NAMES.includes(name) || OTHER_VARIABLES.has(name)) continue;
    const near = ENV_NAMES.filter((n) => editDistance(n, name) <= 2);
    const hint = near.length ? `did you mean ${near.join(' or ')}? ` : '';
    if (SECTION_PREFIXES.some((p) => name.startsWith(p))) {
      errs.push(
        new SockscopeError(
          'ESOCKSCOPE_CONFIG',
          `config: ${name} (from env) names no setting: ${hint}expected one of the known settings (see 'sockscope config sample'; SOCKSCOPE_<SECTION>_<KEY>)`,
          { key: name, origin: `env ${name}` },
        ),
      );
    } else if (!/^SOCKSCOPE_(ZABBIX_(?!AGENT_)|ZBX_|PROMTOOL|PROMETHEUS|INFLUXD|APT_UPDATED)/.test(name)) {
      // (those are the test tools' variables: .ci/run exports them)
      warnings.push(
        `environment variable ${name} is not a sockscope setting and is ignored: ${hint}settings are SOCKSCOPE_<SECTION>_<KEY> (see 'sockscope config sample')`,
      );
    }
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true }); // verbose: errors carry parentSchema (its description)
const check = ajv.compile(CONFIG_SCHEMA);

function validate(config: AgentConfig, origins: Map<string, string>, errs: SockscopeError[]): void {
  if (!check(config)) {
    // every failing value once (a value can fail several keywords: the first says what was expected)
    const seen = new Set<string>();
    for (const e of check.errors!) {
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      errs.push(schemaError(config, origins, e));
    }
    return; // the checks below assume the shapes the schema guarantees
  }
  semanticChecks(config, origins, collectInto(errs));
}

function schemaError(config: AgentConfig, origins: Map<string, string>, e: NonNullable<typeof check.errors>[number]): SockscopeError {
  const path = e.instancePath.split('/').filter(Boolean);
  // the origin of the nearest leaf at or above the failing path
  let origin = 'default';
  for (let n = path.length; n > 0; n--) {
    const o = origins.get(path.slice(0, n).join('.'));
    if (o) {
      origin = o;
      break;
    }
  }
  const schema = e.parentSchema as { description?: string; enum?: unknown[] } | undefined;
  const expected =
    e.keyword === 'enum'
      ? `one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
      : (schema?.description ?? e.message ?? 'a valid value');
  const shown = path.join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
  return configError(shown || '(top level)', get(config as unknown as Json, path), origin, expected);
}

function semanticChecks(config: AgentConfig, origins: Map<string, string>, collect: (f: () => void) => void): void {
  // each collector validates its own section (port groups, tcp_info field names), as the agent will read it
  collect(() => {
    try {
      gatherConfigFromSections(config.collectors);
    } catch (e) {
      const err = e as SockscopeError;
      if (!isSockscopeError(err) || err.code !== 'ESOCKSCOPE_CONFIG') throw e;
      let at = String(err.facts.key);
      while (!origins.has(at) && /[.[]/.test(at)) at = at.replace(/(\.[^.[]*|\[\d+\])$/, '');
      throw configError(String(err.facts.key), err.facts.value, origins.get(at) ?? 'default', err.message.replace(/^.*expected /, ''));
    }
  });
  const ix = config.outputs.influxdb;
  if (ix.enabled && ix.version === 2) {
    for (const k of ['organization', 'bucket', 'token'] as const) {
      if (!ix[k])
        collect(() => {
          throw configError(
            `outputs.influxdb.${k}`,
            ix[k],
            origins.get(`outputs.influxdb.${k}`)!,
            'a non-empty value: InfluxDB v2 writes need organization, bucket and token',
          );
        });
    }
  }
  // a zero interval would gather in a busy loop; zero timeouts would switch the timeouts off
  for (const key of ['agent.interval', 'outputs.prometheus.read_timeout', 'outputs.influxdb.timeout']) {
    const text = get(config as unknown as Json, key.split('.')) as string;
    if (durationMs(text) <= 0)
      collect(() => {
        throw configError(key, text, origins.get(key) ?? 'default', 'a duration greater than zero, e.g. 10s');
      });
  }
  for (const l of config.outputs.prometheus.listen) {
    const port = Number(l.slice(l.lastIndexOf(':') + 1));
    if (port > 65535)
      collect(() => {
        throw configError('outputs.prometheus.listen', l, origins.get('outputs.prometheus.listen')!, 'a port between 0 (any free port) and 65535');
      });
  }
}

/** "10s" → 10000, "1m30s" → 90000 (validated strings only: the config's durations passed its schema). */
export function durationMs(text: string): number {
  return parseDuration(text) ?? 0;
}
