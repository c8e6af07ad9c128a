/**
 * The deployment files for every network namespace: the DaemonSet variant asks for what --all-netns needs
 * (hostPID, the three capabilities, kubelet's log directories read-only, the netns bind mounts, the cgroup
 * tree) and its configuration loads with [netns] on; the systemd drop-in grants the same and its environment
 * turns [netns] on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
});
