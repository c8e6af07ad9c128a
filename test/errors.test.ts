/**
 * Error codes used consistently (src/errors.ts): what failed says which part failed, and errno is the kernel's
 * positive number wherever it rides along.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { isSockscopeError } from '../src/errors.js';
import { listenOn } from '../src/util/net.js';
import { sendItems } from '../src/zabbix/sender.js';

const root = new URL('../../', import.meta.url);

describe('error codes', () => {
  it('every code src/errors.ts declares is in docs/errors.md, and the page names no other', () => {
    const declared = [...readFileSync(new URL('src/errors.ts', root), 'utf8').matchAll(/\| '(ESOCKSCOPE_[A-Z_]+)'/g)].map((m) => m[1]);
    assert.ok(declared.length >= 5, `codes read from src/errors.ts: ${declared}`);
    const documented = [...readFileSync(new URL('docs/errors.md', root), 'utf8').matchAll(/^\| `(ESOCKSCOPE_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...documented].sort(), [...declared].sort());
  });

  it('a Zabbix server that refuses the connection is ESOCKSCOPE_ZABBIX, not a netlink error', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    await new Promise((r) => s.close(r)); // nothing listens there now
    await assert.rejects(sendItems(`127.0.0.1:${port}`, [], { timeoutMs: 5000 }), (e: unknown) => {
      assert.ok(isSockscopeError(e));
      assert.equal(e.code, 'ESOCKSCOPE_ZABBIX');
      assert.match(e.message, /ECONNREFUSED/);
      assert.equal(e.facts.errno, 111, 'ECONNREFUSED, the positive errno');
      assert.equal(e.facts.syscall, 'connect');
      return true;
    });
  });

  it('a listen address in use: ESOCKSCOPE_CONFIG naming the setting, errno positive (EADDRINUSE = 98)', async () => {
    const first = createServer();
    await new Promise<void>((r) => first.listen(0, '127.0.0.1', r));
    const { port } = first.address() as AddressInfo;
    try {
      await assert.rejects(listenOn(createServer(), `127.0.0.1:${port}`, 'outputs.prometheus.listen'), (e: unknown) => {
        assert.ok(isSockscopeError(e));
        assert.equal(e.code, 'ESOCKSCOPE_CONFIG');
        assert.equal(e.facts.key, 'outputs.prometheus.listen');
        assert.equal(e.facts.errno, 98);
        return true;
      });
    } finally {
      first.close();
    }
  });
});
