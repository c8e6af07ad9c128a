/**
 * The deployment files in deploy/:
 *   - prometheus/sockscope-rules.yml passes `promtool check rules`, and its unit tests (`promtool test rules
 *     sockscope-rules.test.yml`: every alert fires on the data it is for, and not on the data it is not);
 *     prometheus/prometheus.yml passes `promtool check config`;
 *   - every metric family of the Grafana dashboard and of the alert rules exists in the agent's output, with
 *     the labels the queries group by, match on and show in legends; the dashboard's structure;
 *   - systemd/sockscope.service: the hardening directives, `systemd-analyze verify`, and an exposure score of
 *     `systemd-analyze security` under 2.0; its claim that the agent needs no privilege, checked: as nobody,
 *     with no capabilities and no_new_privs, in a namespace with a known population, the agent reads every
 *     socket over netlink (no /proc fallback) and counts what ss counts;
 *   - kubernetes/sockscope-daemonset.yaml: hostNetwork, an unprivileged container, the extra permissions of
 *     process attribution documented; its configuration and arguments accepted by the agent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { parseSs } from '../helpers/ss.js';
import { AgentProcess, cleanEnv, firstGather, freePort, freePortIn, NsBridge, REPO, request, sampleValue, targetOf, tempDir } from '../helpers/agent.js';
import { findPromtool } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

const DEPLOY = join(REPO, 'deploy');
const promtool = findPromtool();
const systemdAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;

/** Every PromQL expression of the dashboard (targets and variable queries) and of the rules. */
function expressions(): { where: string; expr: string; legend?: string }[] {
  const out: { where: string; expr: string; legend?: string }[] = [];
  const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana/sockscope-dashboard.json'), 'utf8'));
  for (const p of dash.panels) for (const t of p.targets ?? []) out.push({ where: `dashboard "${p.title}"`, expr: t.expr, legend: t.legendFormat });
  for (const v of dash.templating.list)
    if (v.type === 'query') out.push({ where: `dashboard variable ${v.name}`, expr: /label_values\((.*),\s*\w+\)$/.exec(v.query.query)![1] });
  const [rules] = parseAllDocuments(readFileSync(join(DEPLOY, 'prometheus/sockscope-rules.yml'), 'utf8')).map((d) => d.toJS());
  for (const g of rules.groups)
    for (const r of g.rules) out.push({ where: `rule ${r.alert}`, expr: r.expr, legend: Object.values(r.annotations ?? {}).join(' ') });
  return out;
}

/** label names of every sample of each family in a text exposition */
function labelsByFamily(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!m || line.startsWith('#')) continue;
    const set = out.get(m[1]) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) set.add(l[1]);
    out.set(m[1], set);
  }
  return out;
}

describe('deployment files', () => {
  test('alert rules: promtool check rules, and their unit tests', { skip: promtool.skip ?? false }, () => {
    const check = spawnSync(promtool.path!, ['check', 'rules', 'sockscope-rules.yml'], { cwd: join(DEPLOY, 'prometheus'), encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS: \d+ rules found/);
    const unit = spawnSync(promtool.path!, ['test', 'rules', 'sockscope-rules.test.yml'], { cwd: join(DEPLOY, 'prometheus'), encoding: 'utf8' });
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
    // the rules the issue asks for are there, and each has a unit test
    const rules = readFileSync(join(DEPLOY, 'prometheus/sockscope-rules.yml'), 'utf8');
    const tests = readFileSync(join(DEPLOY, 'prometheus/sockscope-rules.test.yml'), 'utf8');
    for (const name of [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]))
      assert.match(tests, new RegExp(`alertname: ${name}\\b`), `${name} has a unit test`);
    for (const name of ['SockscopeCloseWaitPilingUp', 'SockscopeListenBacklogNearFull', 'SockscopeTimeWaitNearPortRange'])
      assert.match(rules, new RegExp(`alert: ${name}\\b`));
  });

  test('sample Prometheus configuration: promtool check config', { skip: promtool.skip ?? false }, () => {
    const r = spawnSync(promtool.path!, ['check', 'config', 'prometheus.yml'], { cwd: join(DEPLOY, 'prometheus'), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8'), /127\.0\.0\.1:11979/);
  });

  describe('metric names against a live agent', () => {
    let agent: AgentProcess;
    let text = '';
    before(async () => {
      // InfluxDB output on (to a port nobody listens on) so the output families exist too
      agent = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '200ms', '--influxdb-url', `http://127.0.0.1:${await freePort()}`]);
      const t = targetOf(await agent.listening());
      await firstGather(t);
      text = (await request(t, '/metrics')).body;
    });
    after(async () => {
      assert.equal((await agent.stop()).code, 0, agent.tail());
    });

    test('every metric of the dashboard and the rules exists, with the labels the queries use', () => {
      const families = labelsByFamily(text);
      const exprs = expressions();
      assert.ok(exprs.length > 20, `${exprs.length} expressions`);
      const used = new Set<string>();
      for (const { where, expr, legend } of exprs) {
        const names = [...new Set([...expr.matchAll(/\b(sockscope_[a-z0-9_]+)\b/g)].map((m) => m[1]))];
        assert.ok(names.length > 0 || /\bup\b/.test(expr), `${where}: a sockscope metric in ${expr}`);
        const labels = new Set(['job', 'instance']);
        for (const n of names) {
          assert.ok(families.has(n), `${where}: ${n} is not in the agent's output`);
          for (const l of families.get(n)!) labels.add(l);
          used.add(n);
        }
        if (names.length === 0) continue;
        const referenced = new Set<string>();
        for (const m of expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g))
          for (const l of m[1]
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean))
            referenced.add(l);
        for (const m of expr.matchAll(/\{([^}]*)\}/g)) for (const l of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) referenced.add(l[1]);
        for (const m of (legend ?? '').matchAll(/\{\{\s*(?:\$labels\.)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) referenced.add(m[1]);
        for (const l of referenced) assert.ok(labels.has(l), `${where}: label ${l} is on none of ${names.join(', ')}`);
      }
      for (const n of [
        'sockscope_tcp_connections',
        'sockscope_port_tcp_connections',
        'sockscope_listen_accept_queue',
        'sockscope_listen_backlog',
        'sockscope_local_port_range_size',
      ]) {
        assert.ok(used.has(n), `the dashboard or the rules use ${n}`);
      }
    });

    test('the dashboard: unique panel ids, a query and the datasource variable on every panel', () => {
      const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana/sockscope-dashboard.json'), 'utf8'));
      assert.equal(typeof dash.uid, 'string');
      assert.ok(dash.title);
      const ids = dash.panels.map((p: any) => p.id);
      assert.equal(new Set(ids).size, ids.length, 'unique ids');
      assert.ok(dash.templating.list.some((v: any) => v.type === 'datasource' && v.name === 'datasource' && v.query === 'prometheus'));
      for (const p of dash.panels.filter((x: any) => x.type !== 'row')) {
        assert.ok(p.targets?.length > 0, `${p.title}: queries`);
        assert.equal(p.datasource.uid, '${datasource}', p.title);
        for (const t of p.targets) {
          assert.ok(t.expr && t.refId, `${p.title}: expr and refId`);
          assert.match(t.expr, /instance=~"\$instance"/, `${p.title}: follows the instance variable`);
        }
        for (const k of ['x', 'y', 'w', 'h']) assert.equal(typeof p.gridPos[k], 'number');
      }
    });
  });

  test('systemd unit: hardening, systemd-analyze verify and security', () => {
    const unit = readFileSync(join(DEPLOY, 'systemd/sockscope.service'), 'utf8');
    const directive = (k: string) => [...unit.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
    assert.deepEqual(directive('NoNewPrivileges'), ['yes']);
    assert.deepEqual(directive('ProtectSystem'), ['strict']);
    assert.deepEqual(directive('CapabilityBoundingSet'), [''], 'no capabilities at all');
    assert.deepEqual(directive('AmbientCapabilities'), ['']);
    assert.deepEqual(directive('DynamicUser'), ['yes']);
    assert.deepEqual(directive('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(directive('RestartPreventExitStatus'), ['2'], 'a bad configuration is not restarted in a loop');
    assert.match(directive('ExecStart')[0], /^\/\S+\/sockscope agent\b/);
    for (const k of [
      'ProtectHome',
      'PrivateTmp',
      'PrivateDevices',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectControlGroups',
      'RestrictSUIDSGID',
      'LockPersonality',
    ]) {
      assert.deepEqual(directive(k), ['yes'], k);
    }
    assert.deepEqual(directive('RestrictAddressFamilies'), ['AF_NETLINK AF_UNIX AF_INET AF_INET6']);
    // the process attribution drop-in adds exactly two capabilities
    const dropIn = readFileSync(join(DEPLOY, 'systemd/sockscope-process-attribution.conf'), 'utf8');
    assert.match(dropIn, /^CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH$/m);
    assert.match(dropIn, /^AmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH$/m);
    assert.match(dropIn, /PROCESS_ATTRIBUTION=true/);

    if (!systemdAnalyze) {
      if (process.env.CI) throw new Error('systemd-analyze is missing — CI must have it (.ci/run installs systemd)');
      return; // the static checks above still ran
    }
    const dir = tempDir('systemd');
    try {
      // verify needs ExecStart to exist: point it at a binary that does
      writeFileSync(join(dir, 'sockscope.service'), unit.replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true'));
      const verify = spawnSync('systemd-analyze', ['verify', join(dir, 'sockscope.service')], { encoding: 'utf8' });
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      assert.equal(verify.stderr.trim(), '', 'no warnings');
      const sec = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', join(dir, 'sockscope.service')], { encoding: 'utf8' });
      assert.equal(sec.status, 0, sec.stdout + sec.stderr);
      const m = /Overall exposure level for sockscope\.service: (\d+\.\d+)/.exec(sec.stdout);
      assert.ok(m, sec.stdout.slice(-500));
      assert.ok(Number(m[1]) < 2.0, `exposure ${m[1]} (0 = locked down, 10 = exposed)`);
      // with the drop-in too
      mkdirSync(join(dir, 'sockscope.service.d'));
      copyFileSync(join(DEPLOY, 'systemd/sockscope-process-attribution.conf'), join(dir, 'sockscope.service.d/process-attribution.conf'));
      assert.equal(spawnSync('systemd-analyze', ['verify', join(dir, 'sockscope.service')], { encoding: 'utf8' }).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const support = netnsSupport();
  const asRoot = process.getuid?.() === 0;
  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  const unprivSkip = support.skip ?? (!asRoot ? 'switching to nobody needs root' : !setpriv ? 'setpriv (util-linux) is missing' : false);
  test("the unit's claim: no privilege needed (as nobody, no capabilities, no_new_privs: netlink, counts as ss)", { skip: unprivSkip }, async () => {
    const ns = await PopulationNetns.start();
    let a: AgentProcess | undefined;
    let bridge: NsBridge | undefined;
    try {
      const ss = parseSs(await ns.check('ss', ['-tan'])).rows;
      const port = await freePortIn(ns);
      a = new AgentProcess(['--listen', `127.0.0.1:${port}`, '--interval', '200ms'], {
        ns,
        env: cleanEnv({ HOME: '/nonexistent' }),
        wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all'],
      });
      await a.listening();
      bridge = await NsBridge.start(ns, port);
      const text = await until(
        'a gather',
        async () => {
          const r = await request(bridge!.target, '/metrics');
          return /^sockscope_gathers_total [1-9]/m.test(r.body) ? r.body : undefined;
        },
        15_000,
        50,
      );
      const status = readFileSync(`/proc/${a.pid}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
      assert.match(status, /^CapEff:\s+0+$/m);
      assert.match(status, /^CapBnd:\s+0+$/m);
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      for (const p of ['tcp', 'udp'])
        assert.ok(sampleValue(text, 'sockscope_sockets_seen', { protocol: p, source: 'netlink' }) !== undefined, `${p} read over netlink`);
      assert.doesNotMatch(text, /source="proc/, 'no /proc fallback');
      const est6 = ss.filter((r) => r.state === 'ESTAB' && r.local.address.includes(':')).length;
      assert.equal(sampleValue(text, 'sockscope_tcp_connections', { family: 'ipv6', state: 'established' }), est6);
      const listen = ss.filter((r) => r.state === 'LISTEN').length;
      assert.equal(
        (sampleValue(text, 'sockscope_tcp_connections', { family: 'ipv4', state: 'listen' }) ?? 0) +
          (sampleValue(text, 'sockscope_tcp_connections', { family: 'ipv6', state: 'listen' }) ?? 0),
        listen + 1,
        "ss's listeners and the agent's own",
      );
      for (const l of ns.population.tcp.listeners.filter((x) => x.pending !== undefined)) {
        assert.equal(
          sampleValue(text, 'sockscope_listen_accept_queue', { local_port: String(l.port) }),
          l.pending,
          `${l.name}: the accept queue, unprivileged`,
        );
      }
    } finally {
      if (a) assert.equal((await a.stop()).code, 0, a.tail());
      await bridge?.stop();
      await ns.stop();
    }
  });

  test('Kubernetes DaemonSet: hostNetwork, an unprivileged container, its configuration accepted by the agent', () => {
    const text = readFileSync(join(DEPLOY, 'kubernetes/sockscope-daemonset.yaml'), 'utf8');
    const docs = parseAllDocuments(text).map((d) => {
      assert.deepEqual(d.errors, []);
      return d.toJS();
    });
    const ds = docs.find((d) => d.kind === 'DaemonSet');
    const cm = docs.find((d) => d.kind === 'ConfigMap');
    const sa = docs.find((d) => d.kind === 'ServiceAccount');
    assert.ok(ds && cm && sa);
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true, "the node's sockets, not the pod's");
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.hostPID, false, 'off unless process attribution');
    assert.equal(pod.automountServiceAccountToken, false, 'no API access');
    assert.equal(sa.automountServiceAccountToken, false);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
    const [c] = pod.containers;
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.privileged, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 11979, protocol: 'TCP' }]);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.ok(pod.terminationGracePeriodSeconds > 5, 'longer than flush_timeout');
    // the permissions process attribution needs are documented in the file
    for (const w of ['hostPID: true', 'SYS_PTRACE', 'DAC_READ_SEARCH', 'runAsUser: 0', 'process_attribution = true'])
      assert.ok(text.includes(w), `documents ${w}`);
    // the configuration and arguments are valid for the agent, with the downward API's values
    assert.equal(c.args[0], 'agent');
    const env: Record<string, string> = { NODE_IP: '10.1.2.3', NODE_NAME: 'node-7' };
    for (const e of c.env) assert.ok(e.value !== undefined || e.valueFrom.fieldRef.fieldPath, e.name);
    // the runtime tuning the agent no longer sets through the FFI (src/agent/runtime.ts)
    assert.equal(c.env.find((e: { name: string }) => e.name === 'GLIBC_TUNABLES')?.value, 'glibc.malloc.mmap_threshold=131072');
    const args = c.args.slice(1).map((a: string) => a.replace(/\$\((\w+)\)/g, (_: string, v: string) => env[v]));
    const dir = tempDir('k8s');
    try {
      const file = join(dir, 'sockscope.toml');
      writeFileSync(file, cm.data['sockscope.toml']);
      const mount = c.volumeMounts.find((v: any) => v.name === 'config');
      assert.ok(args.includes(`--config=${mount.mountPath}/sockscope.toml`));
      const flags = Object.fromEntries(args.map((a: string) => a.replace(/^--/, '').split('=')));
      const l = loadConfig({ file, flags: { listen: [flags.listen], hostname: flags.hostname } });
      assert.deepEqual(l.config.outputs.prometheus.listen, ['10.1.2.3:11979']);
      assert.equal(l.config.agent.hostname, 'node-7');
      assert.equal(l.config.collectors.netstat_port.process_attribution, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
