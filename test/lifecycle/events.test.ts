/**
 * Destroy events recorded from a real kernel (test/fixtures/lifecycle/destroy-events.json, made by test/helpers/record-destroy-events.ts)
 * replayed through the decoder the subscription uses, and malformed datagrams survived.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress } from '../../src/diag/address.js';
import { AF_INET, AF_INET6, Proto, TCP_CLOSE } from '../../src/diag/constants.js';
import { decodeInetAttributes } from '../../src/diag/inet.js';
import { destroyGroups } from '../../src/lifecycle/events.js';
import { decode, recordedDatagrams } from '../helpers/destroy-events.js';

describe('destroy events (recorded)', () => {
  const { table: t, counts } = decode(recordedDatagrams());
  const view = t.arenaView();
  const attrs = (i: number) => decodeInetAttributes(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i], t.proto[i]);

  it('one row per destroyed socket: per family two connection ends, a listener, a UDP socket', () => {
    assert.deepEqual(counts, { events: 8, malformed: 0 });
    const kinds = Array.from(
      { length: t.length },
      (_, i) => `${t.family[i] === AF_INET ? 4 : 6}/${t.proto[i] === Proto.tcp ? 'tcp' : 'udp'}/${t.sport[i]}>${t.dport[i]}`,
    );
    for (const f of [4, 6]) {
      assert.equal(kinds.filter((k) => k.startsWith(`${f}/tcp/5001>`) && !k.endsWith('>0')).length, 1, kinds.join(' '));
      assert.equal(kinds.filter((k) => k.startsWith(`${f}/tcp/`) && k.endsWith('>5001')).length, 1, kinds.join(' '));
      assert.ok(kinds.includes(`${f}/tcp/5001>0`), kinds.join(' ')); // the listener
      assert.ok(kinds.includes(`${f}/udp/5353>53`), kinds.join(' '));
    }
  });

  it('closed TCP sockets in state CLOSE with a cookie and the final tcp_info, its length as sent', () => {
    for (let i = 0; i < t.length; i++) {
      if (t.proto[i] !== Proto.tcp) continue;
      assert.equal(t.state[i], TCP_CLOSE);
      assert.ok(t.cookieLo[i] !== 0 || t.cookieHi[i] !== 0);
      const a = attrs(i);
      assert.equal(a.protocol, 6);
      assert.ok(a.tcpInfoLength! >= 136, `tcp_info of ${a.tcpInfoLength} bytes`);
      if (t.dport[i] === 0) continue;
      const client = t.dport[i] === 5001;
      // sequence space: the data, one for a FIN acknowledged or received, one for the SYN the client sent
      assert.equal(a.tcpInfo!.bytes_acked, client ? 1234 + 2 : 4321 + 1);
      assert.equal(a.tcpInfo!.bytes_received, client ? 4321 + 1 : 1234 + 1);
      assert.equal(a.tcpInfo!.bytes_sent, client ? 1234 : 4321); // data only
      const local = formatAddress(t.family[i], t.src, i * 16);
      assert.equal(local, t.family[i] === AF_INET6 ? '::1' : '127.0.0.1');
    }
  });

  it('UDP has no tcp_info: the protocol attribute and the header only', () => {
    for (let i = 0; i < t.length; i++) {
      if (t.proto[i] !== Proto.udp) continue;
      const a = attrs(i);
      assert.equal(a.protocol, 17);
      assert.equal(a.tcpInfo, undefined);
      assert.equal(t.uid[i], 0); // the kernel fills no uid or inode for a socket being freed
      assert.equal(t.inode[i], 0);
      assert.equal(t.wqueue[i], 0); // the kernel sent -1 (sk_wmem_alloc_get of a freed socket): an empty queue
    }
  });

  it('malformed datagrams are counted and skipped; the rest still decode', () => {
    const good = recordedDatagrams();
    const truncated = good[0].slice(0, 40); // nlmsg_len says more than the datagram holds
    const short = good[0].slice(0, 16 + 20);
    new DataView(short.buffer).setUint32(0, 16 + 20, true); // a whole message, too short for inet_diag_msg
    const wrongType = good[0].slice();
    new DataView(wrongType.buffer).setUint16(4, 3, true); // NLMSG_DONE is no destroy event
    const noProtocol = good[0].slice();
    // retype every attribute after the 72-byte header as an unknown one: no INET_DIAG_PROTOCOL
    for (let at = 16 + 72; at + 4 <= noProtocol.byteLength; ) {
      const v = new DataView(noProtocol.buffer);
      const len = v.getUint16(at, true);
      v.setUint16(at + 2, 200, true);
      at += (len + 3) & ~3;
      if (len < 4) break;
    }
    const { table, counts } = decode([truncated, short, wrongType, noProtocol, new Uint8Array(3), ...good]);
    assert.equal(counts.events, 8);
    assert.equal(counts.malformed, 5);
    assert.equal(table.length, 8);
  });

  it('the groups: one per protocol and family asked for', () => {
    assert.deepEqual(destroyGroups(['tcp', 'udp'], [AF_INET, AF_INET6]), [1, 2, 3, 4]);
    assert.deepEqual(destroyGroups(['tcp'], [AF_INET6]), [3]);
    assert.deepEqual(destroyGroups(['udp'], [AF_INET]), [2]);
  });
});
