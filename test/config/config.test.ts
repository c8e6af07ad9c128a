/**
 * The agent's configuration, through the real CLI (`sockscope config sample|show`, `sockscope agent`) and
 * loadConfig():
 *   - `config sample` is TOML, equals the built-in defaults, and every section is commented;
 *   - with no configuration: the Prometheus endpoint on 127.0.0.1:11979 (outside the exporter port registry and
 *     the ephemeral range), netstat + netstat_port on, every value from the defaults;
 *   - `config show` is TOML that reads back as the effective configuration, each value with its origin;
 *   - precedence flags > environment > file > defaults, per setting;
 *   - every setting has a SOCKSCOPE_* variable, typed like its default;
 *   - DataKit's netstat.conf blocks and ENV_INPUT_NETSTAT_TAGS / _INTERVAL / _ADDR_PORTS in DataKit's formats;
 *   - global tags and the host tag go on every metric (hostname, omit_hostname);
 *   - a bad value exits 2 before anything starts, naming the key, the value and what was expected.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { gatherConfigOf } from '../../src/agent/agent.js';
import { hostname as kernelHostname } from '../../src/gather/gather.js';
import { DEFAULT_LISTEN, DEFAULT_PORT, DEFAULTS } from '../../src/config/defaults.js';
import { envName, LEAVES, loadConfig } from '../../src/config/load.js';
import { freePort, runCli, tempDir } from '../helpers/agent.js';

type Json = Record<string, unknown>;
const get = (o: unknown, p: readonly string[]) => p.reduce<unknown>((x, k) => (x as Json)?.[k], o);
/** smol-toml makes null-prototype objects: compare plain data */
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const toml = (text: string) => plain(parseToml(text)) as any;

/** `config show` output: { dotted path → origin } */
function origins(show: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = '';
  for (const line of show.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line);
    if (s) section = s[1];
    const m = /^ {2}(\S+) = .* {2}# (.+)$/.exec(line);
    if (m) out.set(`${section}.${m[1]}`, m[2]);
  }
  return out;
}

/** A valid, non-default environment value for a setting, and what it must load as. */
function envValueFor(path: readonly string[]): [string, unknown] {
  const key = path[path.length - 1];
  const def = get(DEFAULTS, path);
  if (typeof def === 'boolean') return [def ? 'false' : 'true', !def];
  if (key === 'version') return ['2', 2];
  if (typeof def === 'number') return [String(def + 1), def + 1];
  if (key === 'tags') return ['team=net, dc=eu-1', { team: 'net', dc: 'eu-1' }];
  if (key === 'addr_ports') return ['[{"ports":["80","443"],"tags":{"service":"http"}}]', [{ ports: ['80', '443'], tags: { service: 'http' } }]];
  if (Array.isArray(def)) {
    const lists: Record<string, string[]> = {
      listen: ['127.0.0.1:9', '[::1]:10'],
      urls: ['http://127.0.0.1:1', 'https://db.example:8086'],
      protocols: ['tcp', 'raw'],
      info_fields: ['rtt_us', 'cwnd'],
      allow: ['10.0.0.0/8', '::1'],
      names: ['blue', '4026532999'],
      pods: ['cart-1'],
      pod_namespaces: ['shop', 'payments'],
      containers: ['cart'],
      labels: ['pod', 'netns'],
    };
    const v = lists[key];
    assert.ok(v, `no test value for the list setting ${path.join('.')}: add one to envValueFor`);
    return [v.join(','), v];
  }
  if (typeof def === 'string') {
    if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(def)) return ['7s', '7s'];
    const strings: Record<string, string> = {
      semantics: 'telegraf',
      precision: 'ms',
      server: '127.0.0.1:10052',
      buffer_strategy: 'disk',
      buffer_directory: '/var/tmp/sockscope',
    };
    const v = strings[key] ?? 'some-value';
    return [v, v];
  }
  throw new Error(`no test value for ${path.join('.')} (${typeof def})`);
}

describe('agent configuration', () => {
  let dir = '';
  before(() => {
    dir = tempDir('config');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  test('config sample: TOML equal to the built-in defaults, every section commented', () => {
    const r = runCli(['config', 'sample']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(toml(r.stdout), DEFAULTS);
    // every [section] has at least one ## comment in it
    const sections = r.stdout.split(/^(?=\[)/m).slice(1);
    assert.ok(sections.length >= 8, 'sections');
    for (const s of sections) assert.match(s, /^\s*##? /m, `section ${s.split('\n')[0]} has a comment`);
    // used as a config file, every value comes from it
    const sample = file('sample.toml', r.stdout);
    const show = runCli(['config', 'show', '--config', sample]);
    assert.equal(show.status, 0, show.stderr);
    for (const [k, o] of origins(show.stdout)) assert.equal(o, `file ${sample}`, k);
    assert.equal(origins(show.stdout).size, LEAVES.length);
  });

  test('no configuration: Prometheus endpoint on 127.0.0.1:11979, netstat + netstat_port on, all defaults', () => {
    const r = runCli(['config', 'show']);
    assert.equal(r.status, 0, r.stderr);
    const o = origins(r.stdout);
    assert.equal(o.size, LEAVES.length, 'every setting shown');
    for (const [k, v] of o) assert.equal(v, 'default', k);
    const c = toml(r.stdout);
    assert.deepEqual(c.outputs.prometheus.listen, ['127.0.0.1:11979']);
    assert.equal(DEFAULT_LISTEN, '127.0.0.1:11979');
    assert.equal(c.outputs.prometheus.enabled, true);
    assert.equal(c.collectors.netstat.enabled, true);
    assert.equal(c.collectors.netstat_port.enabled, true);
    assert.equal(c.outputs.influxdb.enabled, false);
    assert.equal(c.outputs.stdout.enabled, false);
    // not a port of the exporter registry (9100-9999), of common servers, nor ephemeral
    assert.ok(DEFAULT_PORT < 9100 || DEFAULT_PORT > 9999);
    assert.ok(DEFAULT_PORT < 32768, 'below the default ephemeral range');
    assert.ok(![3000, 5000, 8000, 8080, 8086, 8088, 9090, 9093, 10050, 10051].includes(DEFAULT_PORT));
    // and the help says so
    const help = runCli(['agent', '--help']);
    assert.match(help.stdout, /127\.0\.0\.1:11979/);
  });

  test('config show: TOML that reads back as the effective configuration, secrets redacted', () => {
    const f = file('show.toml', '[agent]\ninterval = "30s"\n[outputs.influxdb]\npassword = "hunter2"\n');
    const r = runCli(['config', 'show', '--config', f, '--hostname', 'web-01'], {
      SOCKSCOPE_OUTPUTS_INFLUXDB_TOKEN: 's3cret',
      SOCKSCOPE_AGENT_TAGS: 'dc=eu-1',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /hunter2|s3cret/);
    const effective = loadConfig({
      file: f,
      env: { SOCKSCOPE_OUTPUTS_INFLUXDB_TOKEN: 's3cret', SOCKSCOPE_AGENT_TAGS: 'dc=eu-1' },
      flags: { hostname: 'web-01' },
    }).config;
    const shown = toml(r.stdout);
    shown.outputs.influxdb.password = effective.outputs.influxdb.password;
    shown.outputs.influxdb.token = effective.outputs.influxdb.token;
    assert.deepEqual(shown, plain(effective));
    const o = origins(r.stdout);
    assert.equal(o.get('agent.interval'), `file ${f}`);
    assert.equal(o.get('agent.hostname'), 'flag --hostname');
    assert.equal(o.get('agent.tags'), 'env SOCKSCOPE_AGENT_TAGS');
    assert.equal(o.get('outputs.influxdb.token'), 'env SOCKSCOPE_OUTPUTS_INFLUXDB_TOKEN');
    assert.equal(o.get('agent.flush_timeout'), 'default');
  });

  test('precedence: flags > environment > file > defaults, setting by setting', () => {
    const f = file(
      'prec.toml',
      `
[agent]
interval = "30s"
hostname = "from-file"
[outputs.prometheus]
listen = ["127.0.0.1:1001"]
[outputs.influxdb]
urls = ["http://file:8086"]
`,
    );
    const env = { SOCKSCOPE_AGENT_INTERVAL: '20s', SOCKSCOPE_OUTPUTS_PROMETHEUS_LISTEN: '127.0.0.1:1002', SOCKSCOPE_OUTPUTS_INFLUXDB_URLS: 'http://env:8086' };
    const flags = { interval: '15s', listen: ['127.0.0.1:1003', '[::1]:1003'] };
    const cases: [string, { file?: string; env?: Json; flags?: Json }, unknown, string][] = [
      ['agent.interval', {}, '10s', 'default'],
      ['agent.interval', { file: f }, '30s', `file ${f}`],
      ['agent.interval', { file: f, env }, '20s', 'env SOCKSCOPE_AGENT_INTERVAL'],
      ['agent.interval', { file: f, env, flags }, '15s', 'flag --interval'],
      ['outputs.prometheus.listen', { file: f }, ['127.0.0.1:1001'], `file ${f}`],
      ['outputs.prometheus.listen', { file: f, env }, ['127.0.0.1:1002'], 'env SOCKSCOPE_OUTPUTS_PROMETHEUS_LISTEN'],
      ['outputs.prometheus.listen', { file: f, env, flags }, ['127.0.0.1:1003', '[::1]:1003'], 'flag --listen'],
      // a flag for one setting leaves the others where they came from
      ['agent.hostname', { file: f, env, flags }, 'from-file', `file ${f}`],
      ['outputs.influxdb.urls', { file: f, env, flags }, ['http://env:8086'], 'env SOCKSCOPE_OUTPUTS_INFLUXDB_URLS'],
      ['outputs.influxdb.urls', { file: f, env, flags: { influxdbUrls: ['http://flag:8086'] } }, ['http://flag:8086'], 'flag --influxdb-url'],
    ];
    for (const [key, input, value, origin] of cases) {
      const l = loadConfig(input as Parameters<typeof loadConfig>[0]);
      assert.deepEqual(get(l.config, key.split('.')), value, `${key} with ${Object.keys(input).join('+') || 'nothing'}`);
      assert.equal(l.origins.get(key), origin, `${key} origin with ${Object.keys(input).join('+') || 'nothing'}`);
    }
    // the same through the CLI
    const r = runCli(['config', 'show', '--config', f, '--interval', '15s'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ {2}interval = "15s" {2}# flag --interval$/m);
    assert.match(r.stdout, /^ {2}listen = \["127\.0\.0\.1:1002"\] {2}# env SOCKSCOPE_OUTPUTS_PROMETHEUS_LISTEN$/m);
    assert.match(r.stdout, /^ {2}hostname = "from-file" {2}# file /m);
  });

  test('every setting has a SOCKSCOPE_* variable, read as the type of its default', () => {
    const all: Record<string, string> = {};
    for (const path of LEAVES) {
      const name = envName(path);
      assert.match(name, /^SOCKSCOPE_[A-Z0-9_]+$/);
      const [text, want] = envValueFor(path);
      all[name] = text;
      const l = loadConfig({ env: { [name]: text } });
      assert.deepEqual(get(l.config, path), want, `${name}=${text}`);
      assert.equal(l.origins.get(path.join('.')), `env ${name}`);
    }
    // all at once too (InfluxDB v2 then has its organization, bucket and token)
    const l = loadConfig({ env: all });
    for (const path of LEAVES) assert.equal(l.origins.get(path.join('.')), `env ${envName(path)}`);
    // and they are documented
    assert.match(runCli(['agent', '--help']).stdout, /SOCKSCOPE_<SECTION>_<KEY>/);
  });

  test("DataKit: netstat.conf blocks and ENV_INPUT_NETSTAT_* in DataKit's formats", () => {
    // DataKit's own sample layout (conf.d/host/netstat.conf)
    const f = file(
      'netstat.conf',
      `
[[inputs.netstat]]
  ##(Optional) Collect interval, default is 10 seconds
  interval = '10s'

  [[inputs.netstat.addr_ports]]
    ports = ["80","443"]
    [inputs.netstat.addr_ports.tags]
      service = "http"
  [[inputs.netstat.addr_ports]]
    ports = ["1.1.1.1:80","2.2.2.2:80"]
  [[inputs.netstat.addr_ports]]
    ports_match = ["*:9529"]

[inputs.netstat.tags]
  some_tag = "some_value"
  more_tag = "file"
`,
    );
    const fromFile = loadConfig({ file: f });
    assert.equal(fromFile.config.agent.interval, '10s');
    assert.deepEqual(plain(fromFile.config.agent.tags), { some_tag: 'some_value', more_tag: 'file' });
    assert.deepEqual(plain(fromFile.config.collectors.netstat_port.addr_ports), [
      { ports: ['80', '443'], tags: { service: 'http' } },
      { ports: ['1.1.1.1:80', '2.2.2.2:80'] },
      { ports_match: ['*:9529'] },
    ]);
    assert.match(fromFile.origins.get('collectors.netstat_port.addr_ports')!, /\[\[inputs\.netstat\]\]/);

    // the Kubernetes variables, with the examples of DataKit's documentation
    const env = {
      ENV_INPUT_NETSTAT_TAGS: 'tag1=value1,tag2=value2,more_tag=env',
      ENV_INPUT_NETSTAT_INTERVAL: '1m30s',
      ENV_INPUT_NETSTAT_ADDR_PORTS: '["1.1.1.1:80","443"]',
    };
    const l = loadConfig({ file: f, env });
    // "If there is a tag with the same name in the configuration file, it will be overwritten."
    assert.deepEqual(plain(l.config.agent.tags), { some_tag: 'some_value', more_tag: 'env', tag1: 'value1', tag2: 'value2' });
    assert.equal(l.origins.get('agent.tags'), 'env ENV_INPUT_NETSTAT_TAGS');
    assert.equal(l.config.agent.interval, '1m30s', 'a Go duration, as DataKit parses it');
    assert.equal(l.origins.get('agent.interval'), 'env ENV_INPUT_NETSTAT_INTERVAL');
    // one group with ports only, as DataKit makes it
    assert.deepEqual(l.config.collectors.netstat_port.addr_ports, [{ ports: ['1.1.1.1:80', '443'] }]);
    // SOCKSCOPE_* wins over DataKit's
    const both = loadConfig({ env: { ...env, SOCKSCOPE_AGENT_INTERVAL: '5s' } });
    assert.equal(both.config.agent.interval, '5s');
    // the agent accepts them as they are (config show exits 0)
    assert.equal(runCli(['config', 'show', '--config', f], env).status, 0);
  });

  test('global tags and the host tag go on every metric; hostname and omit_hostname', () => {
    const tags = (env: Json) => gatherConfigOf(loadConfig({ env: env as NodeJS.ProcessEnv }).config).tags;
    assert.deepEqual(tags({}), { host: kernelHostname() });
    assert.deepEqual(tags({ SOCKSCOPE_AGENT_HOSTNAME: 'web-01', SOCKSCOPE_AGENT_TAGS: 'dc=eu-1,rack=r7' }), { dc: 'eu-1', rack: 'r7', host: 'web-01' });
    assert.deepEqual(tags({ SOCKSCOPE_AGENT_OMIT_HOSTNAME: 'true', ENV_INPUT_NETSTAT_TAGS: 'dc=eu-1' }), { dc: 'eu-1' });
  });

  test('a bad value exits 2 before anything starts, naming the key, the value and what was expected', async () => {
    const port = await freePort();
    const listen = ['--listen', `127.0.0.1:${port}`];
    const bad = (name: string, text: string) => file(name, text);
    const web = bad('web.yml', 'basic_auth_users:\n  alice: not-a-hash\n');
    const webKey = bad('web-key.yml', 'tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  ciphers: [x]\n');
    const cases: { args?: string[]; env?: Record<string, string>; want: (string | RegExp)[]; lines?: number }[] = [
      { env: { SOCKSCOPE_AGENT_INTERVAL: 'soon' }, want: ['agent.interval', '"soon"', 'env SOCKSCOPE_AGENT_INTERVAL', 'expected a duration like'] },
      { args: ['--interval', '0s'], want: ['agent.interval', '"0s"', 'flag --interval', 'greater than zero'] },
      { args: ['--listen', '127.0.0.1:99999'], want: ['outputs.prometheus.listen', '127.0.0.1:99999', 'between 0'] },
      { args: ['--listen', 'localhost'], want: ['outputs.prometheus.listen[0]', '"localhost"', 'ADDRESS:PORT'] },
      { env: { SOCKSCOPE_OUTPUTS_INFLUXDB_VERSION: '3' }, want: ['outputs.influxdb.version', '3', 'one of 1, 2'] },
      { env: { SOCKSCOPE_OUTPUTS_INFLUXDB_METRIC_BUFFER_LIMIT: 'lots' }, want: ['outputs.influxdb.metric_buffer_limit', '"lots"', 'a number'] },
      { env: { SOCKSCOPE_OUTPUTS_INFLUXDB_METRIC_BUFFER_LIMIT: '0' }, want: ['outputs.influxdb.metric_buffer_limit', '0', '>= 1'] },
      { env: { SOCKSCOPE_COLLECTORS_NETSTAT_ENABLED: 'maybe' }, want: ['collectors.netstat.enabled', '"maybe"', 'true or false'] },
      {
        env: { SOCKSCOPE_OUTPUTS_INFLUXDB_ENABLED: 'true', SOCKSCOPE_OUTPUTS_INFLUXDB_VERSION: '2' },
        want: ['outputs.influxdb.organization', 'InfluxDB v2 writes need'],
        lines: 3,
      }, // bucket and token too
      { env: { SOCKSCOPE_OUTPUTS_INFLUXDB_URLS: 'db:8086' }, want: ['outputs.influxdb.urls[0]', '"db:8086"', 'http:// or https://'] },
      { env: { ENV_INPUT_NETSTAT_TAGS: 'no-equals-sign' }, want: ['ENV_INPUT_NETSTAT_TAGS', 'no-equals-sign', 'key=value'] },
      { env: { ENV_INPUT_NETSTAT_INTERVAL: 'ten seconds' }, want: ['agent.interval', '"ten seconds"', 'env ENV_INPUT_NETSTAT_INTERVAL', 'a duration'] },
      { env: { ENV_INPUT_NETSTAT_ADDR_PORTS: '["1.1.1.1:80","http"]' }, want: ['addr_ports[0].ports', '"http"', 'a port ("80")'] },
      { env: { ENV_INPUT_NETSTAT_ADDR_PORTS: '80,443' }, want: ['addr_ports', '80,443', 'a JSON array'] },
      { env: { SOCKSCOPE_COLLECTORS_SOCKETSTAT_INFO_FIELDS: 'rtt_us,rtt_ms' }, want: ['collectors.socketstat.info_fields', '"rtt_ms"', 'one of rtt_us'] },
      { args: ['--config', bad('unknown.toml', '[agent]\nintervall = "10s"\n')], want: ['agent.intervall', '"10s"', 'known settings'] },
      { args: ['--config', bad('syntax.toml', '[agent]\ninterval = 10s\n')], want: ['not valid TOML', 'line 2'] },
      { args: ['--config', bad('type.toml', '[outputs.prometheus]\nmax_requests = "many"\n')], want: ['outputs.prometheus.max_requests', '"many"', 'integer'] },
      { args: ['--config', join(dir, 'missing.toml')], want: ['cannot read', 'missing.toml', 'ENOENT'] },
      { args: ['--web-config', join(dir, 'missing.yml')], want: ['outputs.prometheus.web_config_file', 'missing.yml', 'readable YAML file'] },
      { args: ['--web-config', web], want: ['basic_auth_users.alice', '"not-a-hash"', 'a bcrypt hash'] },
      { args: ['--web-config', webKey], want: ['tls_server_config.ciphers', 'one of cert_file'] },
      { args: ['--listen', `127.0.0.1:${port}`, '--listen', `127.0.0.1:${port}`], want: [`cannot listen on 127.0.0.1:${port}`, 'EADDRINUSE'] },
      { env: { SOCKSCOPE_AGENT_INTERVALL: '10s' }, want: ['SOCKSCOPE_AGENT_INTERVALL', 'names no setting', 'did you mean SOCKSCOPE_AGENT_INTERVAL?'] },
      // every problem, not only the first: the file's unknown key, then the environment's, then the flag's value
      {
        args: ['--config', bad('two.toml', '[agent]\nintervall = "10s"\n'), '--interval', '0s'],
        env: { SOCKSCOPE_COLLECTORS_NETSTAT_ENABLED: 'maybe' },
        want: ['agent.intervall', 'known settings'],
        lines: 3,
      },
    ];
    for (const c of cases) {
      const args = ['agent', ...(c.args?.some((a) => a === '--listen') ? [] : listen), ...(c.args ?? [])];
      const t0 = Date.now();
      const r = runCli(args, c.env ?? {});
      const what = `${JSON.stringify(c.env ?? {})} ${args.join(' ')}`;
      assert.equal(r.status, 2, `${what}: exit status\n${r.stderr}`);
      assert.ok(Date.now() - t0 < 10_000, `${what}: exits at once`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, c.lines ?? 1, `${what}: one line per problem on stderr:\n${r.stderr}`);
      for (const l of lines) assert.match(l, /^sockscope: config: /.test(lines[0]) ? /^sockscope: config: / : /^sockscope: /);
      for (const w of c.want) assert.ok(typeof w === 'string' ? lines[0].includes(w) : w.test(lines[0]), `${what}: ${JSON.stringify(w)} in: ${lines[0]}`);
      assert.doesNotMatch(r.stderr, /serving metrics|agent started/, `${what}: nothing started`);
      assert.equal(r.stdout, '', `${what}: nothing on stdout`);
    }
  });
});
