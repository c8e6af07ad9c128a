/**
 * Error codes used consistently (src/errors.ts): what failed says which part failed, and errno is the kernel's
 * positive number wherever it rides along.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { isSockscopeError } from '../src/errors.js';
import { listenOn } from '../src/util/net.js';
import { sendItems } from '../src/zabbix/sender.js';

describe('error codes', () => {
  it('a Zabbix server that refuses the connection is ESOCKSCOPE_ZABBIX, not a netlink error', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    await new Promise((r) => s.close(r)); // nothing listens there now
    await assert.rejects(sendItems(`127.0.0.1:${port}`, [], { timeoutMs: 5000 }), (e: unknown) => {
      assert.ok(isSockscopeError(e));
      assert.equal(e.code, 'ESOCKSCOPE_ZABBIX');
      assert.match(e.message, /ECONNREFUSED/);
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
