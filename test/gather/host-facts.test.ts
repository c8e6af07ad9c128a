/**
 * The host facts the gather reads beside the snapshot (collectors read none): from a proc root, so a missing
 * or odd sysctl is seen as a user's host would show it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hostname, localPortRange, readHostFacts } from '../../src/gather/host-facts.js';

const root = mkdtempSync(join(tmpdir(), 'r2-host-facts-'));
after(() => rmSync(root, { recursive: true, force: true }));

function procWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'proc-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('host facts', () => {
  it('the ephemeral port range from ip_local_port_range (tab-separated as the kernel writes it)', () => {
    assert.deepEqual(localPortRange(procWith({ 'sys/net/ipv4/ip_local_port_range': '32768\t60999\n' })), { low: 32768, high: 60999 });
  });

  it('no range when the sysctl is missing or not two integers', () => {
    assert.equal(localPortRange(procWith({})), undefined);
    assert.equal(localPortRange(procWith({ 'sys/net/ipv4/ip_local_port_range': 'garbage\n' })), undefined);
  });

  it('the hostname from the kernel, localhost without procfs', () => {
    assert.equal(hostname(procWith({ 'sys/kernel/hostname': 'web-01\n' })), 'web-01');
    assert.equal(hostname(procWith({})), 'localhost');
  });

  it('reads only the facts asked for', () => {
    const proc = procWith({ 'sys/net/ipv4/ip_local_port_range': '1024 2047\n' });
    assert.equal(readHostFacts([], proc).localPortRange, undefined);
    assert.equal(readHostFacts([], proc).holders, undefined);
    assert.deepEqual(readHostFacts(['localPortRange'], proc).localPortRange, { low: 1024, high: 2047 });
    assert.equal(typeof readHostFacts([], proc).interfaceName, 'function');
  });
});
