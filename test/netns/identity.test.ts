/**
 * The pure half of namespace identity and counters: cgroup paths as each runtime and kubelet cgroup driver lays
 * them out (v2 and v1 files), kubelet's log directory names, and /proc/net/{netstat,snmp,sockstat} as recorded
 * on a real kernel (test/netns/fixtures).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { netnsCounters, parseNetstatPairs } from '../../src/netns/counters.js';
import { containerOfLogName, identityOfCgroupFile, identityOfCgroupPath, nsInodeOfLink, podOfLogDirectory } from '../../src/netns/identity.js';
import { parseLabels, selected, netnsTags } from '../../src/netns/all.js';
import type { NetnsInfo } from '../../src/netns/discover.js';

const FIXTURES = fileURLToPath(new URL('../../../test/netns/fixtures/', import.meta.url));
const ID = 'a'.repeat(64);
const UID = '0f5d8a5c-2c6e-4b1e-9d5e-2b8f6f0c1a23';
const SLICE_UID = UID.replaceAll('-', '_');
/** a static pod's uid: the hash of its manifest */
const STATIC_UID = '5ec4e6cd0d45cb46dd8ad2e5e8d1a6a2';

describe('container and pod from a cgroup path', () => {
  const cases: [string, string, object][] = [
    [
      'containerd, systemd driver, Burstable',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SLICE_UID}.slice/cri-containerd-${ID}.scope`,
      { container: { runtime: 'containerd', id: ID }, podUid: UID },
    ],
    [
      'CRI-O, BestEffort',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${SLICE_UID}.slice/crio-${ID}.scope`,
      { container: { runtime: 'cri-o', id: ID }, podUid: UID },
    ],
    ['cri-dockerd, Guaranteed', `/kubepods.slice/kubepods-pod${SLICE_UID}.slice/docker-${ID}.scope`, { container: { runtime: 'docker', id: ID }, podUid: UID }],
    ['cgroupfs driver', `/kubepods/burstable/pod${UID}/${ID}`, { container: { runtime: 'containerd', id: ID }, podUid: UID }],
    ["the pod slice alone (a pod's own process)", `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SLICE_UID}.slice`, { podUid: UID }],
    ['docker, systemd driver', `/system.slice/docker-${ID}.scope`, { container: { runtime: 'docker', id: ID } }],
    ['CRI-O, cgroupfs driver (crio-<id>, no scope)', `/kubepods/besteffort/pod${UID}/crio-${ID}`, { container: { runtime: 'cri-o', id: ID }, podUid: UID }],
    ["CRI-O's conmon, cgroupfs driver", `/kubepods/besteffort/pod${UID}/crio-conmon-${ID}`, { podUid: UID }],
    [
      'a static pod (uid: 32 hex digits), systemd driver',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC_UID}.slice/cri-containerd-${ID}.scope`,
      { container: { runtime: 'containerd', id: ID }, podUid: STATIC_UID },
    ],
    ['a static pod, cgroupfs driver', `/kubepods/pod${STATIC_UID}/${ID}`, { container: { runtime: 'containerd', id: ID }, podUid: STATIC_UID }],
    [
      "kubelet's --cgroup-root (kind): kubelet-kubepods-… slices",
      `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${SLICE_UID}.slice/cri-containerd-${ID}.scope`,
      { container: { runtime: 'containerd', id: ID }, podUid: UID },
    ],
    ['containerd without Kubernetes (nerdctl)', `/system.slice/nerdctl-${ID}.scope`, { container: { runtime: 'containerd', id: ID } }],
    [
      'a podman pod: the pod slice, the container scope, its payload cgroup',
      `/machine.slice/machine-libpod_pod_${'b'.repeat(64)}.slice/libpod-${ID}.scope/container`,
      { container: { runtime: 'podman', id: ID } },
    ],
    ['systemd-nspawn, the payload below its scope', '/machine.slice/machine-box.scope/payload', { container: { runtime: 'systemd-nspawn', id: 'box' } }],
    ['a pod-looking directory outside kubepods is no pod', `/system.slice/pod${UID}/${ID}`, {}],
    [
      "read from a container's cgroup namespace, cgroupfs driver: relative to its root, kubepods above it",
      `/../../../burstable/pod${UID}/${ID}`,
      { container: { runtime: 'containerd', id: ID }, podUid: UID },
    ],
    [
      "read from a container's cgroup namespace, systemd driver",
      `/../../kubepods-besteffort-pod${SLICE_UID}.slice/crio-${ID}.scope`,
      { container: { runtime: 'cri-o', id: ID }, podUid: UID },
    ],
    ["read from a container's cgroup namespace: a host service", '/../../../../system.slice/sshd.service', {}],

    ['docker, cgroupfs driver', `/docker/${ID}`, { container: { runtime: 'docker', id: ID } }],
    ['podman', `/machine.slice/libpod-${ID}.scope`, { container: { runtime: 'podman', id: ID } }],
    ['podman rootless', `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`, { container: { runtime: 'podman', id: ID } }],
    ["podman's conmon is no container", `/machine.slice/libpod-conmon-${ID}.scope`, {}],
    [
      "CRI-O's conmon is no container",
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${SLICE_UID}.slice/crio-conmon-${ID}.scope`,
      { podUid: UID },
    ],
    ['systemd-nspawn, escaped name', '/machine.slice/machine-web\\x2dfront.scope', { container: { runtime: 'systemd-nspawn', id: 'web-front' } }],
    ['a service', '/system.slice/sshd.service', {}],
    ['the root', '/', {}],
    [
      "a test prefix above kubelet's layout",
      `/netns-t-x/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SLICE_UID}.slice/cri-containerd-${ID}.scope`,
      { container: { runtime: 'containerd', id: ID }, podUid: UID },
    ],
  ];
  for (const [what, path, want] of cases) test(what, () => assert.deepEqual(identityOfCgroupPath(path), want));

  test('/proc/PID/cgroup, v2: the 0:: line', () => {
    assert.deepEqual(identityOfCgroupFile(`0::/kubepods.slice/kubepods-pod${SLICE_UID}.slice/cri-containerd-${ID}.scope\n`), {
      container: { runtime: 'containerd', id: ID },
      podUid: UID,
    });
  });

  test('/proc/PID/cgroup, v1 (and hybrid with an empty v2 path): any hierarchy', () => {
    const v1 = [
      `12:pids:/kubepods/besteffort/pod${UID}/${ID}`,
      `11:memory:/kubepods/besteffort/pod${UID}/${ID}`,
      `1:name=systemd:/kubepods/besteffort/pod${UID}/${ID}`,
      '0::/',
      '',
    ].join('\n');
    assert.deepEqual(identityOfCgroupFile(v1), { container: { runtime: 'containerd', id: ID }, podUid: UID });
    assert.deepEqual(identityOfCgroupFile(`4:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n`), { container: { runtime: 'docker', id: ID } });
    // hybrid, cgroupfs driver: the unified hierarchy holds the runtime's service, the v1 ones the container
    const hybrid = [`11:memory:/kubepods/burstable/pod${UID}/crio-${ID}`, '1:name=systemd:/system.slice/crio.service', '0::/system.slice/crio.service', ''];
    assert.deepEqual(identityOfCgroupFile(hybrid.join('\n')), { container: { runtime: 'cri-o', id: ID }, podUid: UID });
    // systemd driver on v1: the same slices and scopes in every hierarchy
    assert.deepEqual(
      identityOfCgroupFile(`5:cpu,cpuacct:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${SLICE_UID}.slice/docker-${ID}.scope\n`),
      { container: { runtime: 'docker', id: ID }, podUid: UID },
    );
    assert.deepEqual(identityOfCgroupFile('0::/\n'), {});
    assert.deepEqual(identityOfCgroupFile(''), {});
  });

  test('net:[inode] links', () => {
    assert.equal(nsInodeOfLink('net:[4026531840]'), 4026531840);
    assert.equal(nsInodeOfLink('mnt:[4026531840]'), undefined);
    assert.equal(nsInodeOfLink('net:[]'), undefined);
  });
});

describe("kubelet's log directories", () => {
  test('/var/log/pods/<namespace>_<pod>_<uid>', () => {
    assert.deepEqual(podOfLogDirectory(`kube-system_coredns-5d78c9869d-abcde_${UID}`), {
      namespace: 'kube-system',
      name: 'coredns-5d78c9869d-abcde',
      uid: UID,
    });
    assert.deepEqual(podOfLogDirectory(`kube-system_etcd-node-1_${STATIC_UID}`), { namespace: 'kube-system', name: 'etcd-node-1', uid: STATIC_UID });
    assert.equal(podOfLogDirectory('kube-system_coredns'), undefined);
    assert.equal(podOfLogDirectory(`kube-system_coredns_${'0'.repeat(36)}`), undefined, 'no uid');
    assert.equal(podOfLogDirectory(`a_b_c_${UID}`), undefined);
  });
  test('/var/log/containers/<pod>_<namespace>_<container>-<id>.log', () => {
    assert.deepEqual(containerOfLogName(`coredns-5d78c9869d-abcde_kube-system_coredns-${ID}.log`), {
      pod: 'coredns-5d78c9869d-abcde',
      namespace: 'kube-system',
      container: 'coredns',
      id: ID,
    });
    assert.deepEqual(containerOfLogName(`web_default_side-car-${ID}.log`), { pod: 'web', namespace: 'default', container: 'side-car', id: ID });
    assert.equal(containerOfLogName(`web_default_nginx-${ID}.txt`), undefined);
    assert.equal(containerOfLogName('web_default_nginx-abc.log'), undefined);
  });
});

describe("a namespace's kernel counters", () => {
  const read = (f: string) => readFileSync(`${FIXTURES}${f}`, 'latin1');

  test('netstat/snmp pairs, recorded: every name gets its value', () => {
    const text = read('netstat');
    const p = parseNetstatPairs(text);
    const lines = text.split('\n');
    const names = lines[0].split(/\s+/).slice(1).filter(Boolean);
    const values = lines[1].split(/\s+/).slice(1).filter(Boolean).map(Number);
    assert.equal(Object.keys(p.TcpExt).length, names.length);
    names.forEach((n, i) => assert.equal(p.TcpExt[n], values[i], n));
    assert.ok('InOctets' in p.IpExt);
    assert.ok('RcvbufErrors' in parseNetstatPairs(read('snmp')).Udp);
  });

  test("the measurement's fields from the three files", () => {
    const c = netnsCounters({ netstat: read('netstat'), snmp: read('snmp'), sockstat: read('sockstat') });
    const tcpExt = parseNetstatPairs(read('netstat')).TcpExt;
    assert.equal(c.listen_overflows, tcpExt.ListenOverflows);
    assert.equal(c.listen_drops, tcpExt.ListenDrops);
    assert.equal(c.tcp_req_q_full_drop, tcpExt.TCPReqQFullDrop);
    assert.equal(c.syncookies_sent, tcpExt.SyncookiesSent);
    assert.equal(c.udp_rcvbuf_errors, parseNetstatPairs(read('snmp')).Udp.RcvbufErrors);
    const tcp = /TCP: inuse (\d+) orphan (\d+) tw (\d+) alloc \d+ mem (\d+)/.exec(read('sockstat'))!.slice(1).map(Number);
    assert.deepEqual([c.tcp_inuse, c.tcp_orphans, c.tcp_time_wait, c.tcp_mem_pages], tcp);
  });

  test('missing or malformed files give the fields they can, nothing made up', () => {
    assert.deepEqual(netnsCounters({}), {});
    assert.deepEqual(netnsCounters({ netstat: 'TcpExt: ListenOverflows ListenDrops\nIpExt: 1 2\n', sockstat: 'TCP: inuse x orphan 3\n' }), { tcp_orphans: 3 });
    assert.deepEqual(parseNetstatPairs('garbage\nTcpExt: A B\nTcpExt: 1 2\n'), { TcpExt: { A: 1, B: 2 } });
  });
});

describe('selection and labels', () => {
  const pod: NetnsInfo = {
    inode: 4026532999,
    path: '/proc/1/ns/net',
    processes: 2,
    own: false,
    pid: 1,
    comm: 'pause',
    container: { runtime: 'containerd', id: ID, name: 'cart' },
    pod: { namespace: 'shop', name: 'cart-1', uid: UID },
  };
  const named: NetnsInfo = { inode: 4026533000, path: '/run/netns/blue', processes: 0, own: false, name: 'blue' };
  const host: NetnsInfo = { inode: 4026531840, path: '/proc/1/ns/net', processes: 100, own: true };

  test("labels: the name or the inode, the pod, its namespace, the container's name or short id; none for the host", () => {
    assert.deepEqual(netnsTags(pod), { netns: '4026532999', pod: 'cart-1', namespace: 'shop', container: 'cart' });
    assert.deepEqual(netnsTags(named), { netns: 'blue' });
    assert.deepEqual(netnsTags({ ...pod, container: { runtime: 'docker', id: ID } }, ['container']), { container: ID.slice(0, 12) });
    assert.deepEqual(netnsTags(host), {});
  });

  test('selectors: by name or inode, pod, namespace, container name or id prefix; the host always', () => {
    assert.ok(selected(named, { netns: ['blue'] }));
    assert.ok(!selected(pod, { netns: ['blue'] }));
    assert.ok(selected(pod, { netns: ['4026532999'] }));
    assert.ok(selected(pod, { pod: ['cart-1'], namespace: ['shop'] }));
    assert.ok(!selected(named, { namespace: ['shop'] }));
    assert.ok(selected(pod, { container: [ID.slice(0, 12)] }) && selected(pod, { container: ['cart'] }));
    assert.ok(!selected(pod, { container: ['aaaa'] }), 'an id prefix shorter than 12 is no id');
    assert.ok(selected(host, { pod: ['nothing'] }));
  });

  test('labels from configuration are checked', () => {
    assert.deepEqual(parseLabels(['pod', 'netns', 'pod'], 'labels'), ['pod', 'netns']);
    assert.throws(() => parseLabels(['pods'], 'netns.labels'), {
      code: 'ESOCKSCOPE_USAGE',
      message: /netns.labels: unknown label 'pods': expected some of netns, pod, namespace, container/,
    });
  });
});
