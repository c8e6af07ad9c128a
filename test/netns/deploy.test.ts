/**
 * The deployment files for every network namespace: the DaemonSet variant asks for what --all-netns needs
 * (hostPID, the three capabilities, kubelet's log directories read-only, the netns bind mounts, the cgroup
 * tree) and its configuration loads with [netns] on; the systemd drop-in grants the same and its environment
 * turns [netns] on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${ROOT}bin/sockscope.js`;

function configShow(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'config', 'show', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('deploy: every network namespace', () => {
  test('DaemonSet: hostPID, SYS_ADMIN/SYS_PTRACE/DAC_READ_SEARCH only, kubelet logs and netns mounts read-only', () => {
    const docs = parseAllDocuments(readFileSync(`${ROOT}deploy/kubernetes/sockscope-daemonset-all-netns.yaml`, 'utf8')).map((d) => d.toJS());
    const ds = docs.find((d) => d.kind === 'DaemonSet');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostPID, true);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.automountServiceAccountToken, false, 'no API server access needed');
    const c = pod.containers[0];
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['SYS_ADMIN', 'SYS_PTRACE', 'DAC_READ_SEARCH'] });
    assert.equal(c.securityContext.privileged, false);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    const mounts = new Map(c.volumeMounts.map((m: any) => [m.mountPath, m]));
    for (const path of ['/var/log/pods', '/var/log/containers', '/run/netns', '/var/run/docker/netns', '/sys/fs/cgroup']) {
      const m: any = mounts.get(path);
      assert.ok(m, path);
      assert.equal(m.readOnly, true, `${path} read-only`);
      const vol = pod.volumes.find((v: any) => v.name === m.name);
      assert.equal(vol.hostPath.path, path, `${path} from the host`);
    }
    assert.equal((mounts.get('/run/netns') as any).mountPropagation, 'HostToContainer', 'namespaces added later show up');
  });

  test('DaemonSet: its configuration loads, with [netns] on', () => {
    const docs = parseAllDocuments(readFileSync(`${ROOT}deploy/kubernetes/sockscope-daemonset-all-netns.yaml`, 'utf8')).map((d) => d.toJS());
    const toml = docs.find((d) => d.kind === 'ConfigMap').data['sockscope.toml'];
    const dir = mkdtempSync(join(tmpdir(), 'netns-t-deploy-'));
    try {
      writeFileSync(join(dir, 'sockscope.toml'), toml);
      const r = configShow(['--config', join(dir, 'sockscope.toml')]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^\[netns\]\n {2}enabled = true {2}# file /m);
      assert.match(r.stdout, /kubelet_log_root = "\/var\/log"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('systemd drop-in: the three capabilities, setns into network namespaces only, [netns] on', () => {
    const text = readFileSync(`${ROOT}deploy/systemd/sockscope-all-netns.conf`, 'utf8');
    const keys = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) keys.set(m[1], [...(keys.get(m[1]) ?? []), m[2]]);
    }
    assert.deepEqual(keys.get('CapabilityBoundingSet'), ['CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH']);
    assert.deepEqual(keys.get('AmbientCapabilities'), ['CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH']);
    assert.deepEqual(keys.get('RestrictNamespaces'), ['net']);
    assert.deepEqual(keys.get('PrivateUsers'), ['no']);
    const env = Object.fromEntries(keys.get('Environment')!.map((e) => e.split('=') as [string, string]));
    const r = configShow([], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\[netns\]\n {2}enabled = true {2}# env SOCKSCOPE_NETNS_ENABLED/m);
  });
  const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;
  test('systemd: the drop-in over sockscope.service, as systemd merges them: a valid unit, setns into network namespaces only, the three capabilities and no other', {
    skip: analyze ? false : 'no systemd-analyze',
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'netns-t-systemd-'));
    try {
      // the unit as shipped, its ExecStart pointed at a binary that exists here (verify checks it)
      const unit = readFileSync(`${ROOT}deploy/systemd/sockscope.service`, 'utf8').replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true');
      writeFileSync(join(dir, 'sockscope.service'), unit);
      mkdirSync(join(dir, 'sockscope.service.d'));
      copyFileSync(`${ROOT}deploy/systemd/sockscope-all-netns.conf`, join(dir, 'sockscope.service.d', 'all-netns.conf'));
      const env = { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:`, SYSTEMD_LOG_LEVEL: 'warning' };
      const verify = spawnSync('systemd-analyze', ['verify', join(dir, 'sockscope.service')], { encoding: 'utf8', env, cwd: dir });
      assert.equal(verify.status, 0, verify.stderr);
      assert.equal(verify.stderr.trim(), '', 'no warning');
      const sec = spawnSync('systemd-analyze', ['security', '--offline=yes', join(dir, 'sockscope.service')], { encoding: 'utf8', env, cwd: dir });
      const line = (setting: string) =>
        sec.stdout.split('\n').find((l) => l.includes(` ${setting} `) || l.includes(` ${setting}\t`) || l.slice(2).startsWith(`${setting} `));
      const allowed = (setting: string) => line(setting)?.startsWith('✗');
      for (const ns of ['user', 'pid', 'mnt', 'uts', 'ipc', 'cgroup']) assert.equal(allowed(`RestrictNamespaces=~${ns}`), false, `no ${ns} namespace`);
      assert.equal(allowed('RestrictNamespaces=~net'), true, 'network namespaces: setns');
      for (const cap of ['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE']) assert.equal(allowed(`CapabilityBoundingSet=~${cap}`), true, cap);
      for (const cap of ['CAP_NET_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_TIME'])
        assert.equal(allowed(`CapabilityBoundingSet=~${cap}`), false, `${cap} stays dropped`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
