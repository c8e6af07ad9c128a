/** Address text: IPv4 dotted quads, IPv6 per RFC 5952 §4, parseAddress accepting what inet_pton(3) accepts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress, formatIPv4, formatIPv6, parseAddress } from '../../src/diag/address.js';
import { hex, toHex } from '../helpers/bytes.js';

/** 8 groups written out in full → 16 network-order bytes. */
const groups = (s: string): Uint8Array =>
  hex(
    s
      .split(':')
      .map((g) => g.padStart(4, '0'))
      .join(''),
  );

describe('formatIPv6 (RFC 5952)', () => {
  const cases: [string, string, string][] = [
    ['§4.2.1 the longest run of zero groups is compressed', '2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['§4.2.2 a single zero group is not compressed', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['§4.2.3 the longest run wins', '2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['§4.2.3 on a tie the first run wins', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['§4.1 leading zeros are dropped', '2001:0db8:0001:0000:0000:0000:0000:0001', '2001:db8:1::1'],
    ['§4.3 lowercase', 'ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
    ['unspecified', '0:0:0:0:0:0:0:0', '::'],
    ['loopback', '0:0:0:0:0:0:0:1', '::1'],
    ['trailing run', '1:0:0:0:0:0:0:0', '1::'],
    ['run at the end beats a shorter one at the start', '0:0:1:0:0:0:0:0', '0:0:1::'],
    ['link-local', 'fe80:0:0:0:1c2a:3bff:fe4d:5e6f', 'fe80::1c2a:3bff:fe4d:5e6f'],
    ['no zeros', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['two-group run in the middle', '1:2:0:0:5:6:7:8', '1:2::5:6:7:8'],
    ['§5 IPv4-mapped in mixed notation', '0:0:0:0:0:ffff:7f00:1', '::ffff:127.0.0.1'],
    ['IPv4-mapped any', '0:0:0:0:0:ffff:0:0', '::ffff:0.0.0.0'],
    ['not mapped: ::ffff:0:a.b.c.d (SIIT) stays hex', '0:0:0:0:ffff:0:102:304', '::ffff:0:102:304'],
    ['not mapped: 1::ffff:a.b.c.d', '1:0:0:0:0:ffff:102:304', '1::ffff:102:304'],
  ];
  for (const [name, full, want] of cases) {
    it(`${name}: ${want}`, () => assert.equal(formatIPv6(groups(full), 0), want));
  }

  it("reads 16 bytes at an offset (the table's address column)", () => {
    const col = new Uint8Array(48);
    col.set(groups('2001:db8:0:0:0:0:0:1'), 16);
    assert.equal(formatIPv6(col, 16), '2001:db8::1');
  });
});

describe('formatIPv4 / formatAddress', () => {
  it('dotted quads at an offset', () => {
    const b = new Uint8Array([0, 0, 0, 0, 192, 168, 0, 255]);
    assert.equal(formatIPv4(b, 4), '192.168.0.255');
    assert.equal(formatIPv4(b, 0), '0.0.0.0');
  });
  it('by family', () => {
    const b = groups('2001:db8:0:0:0:0:0:1');
    assert.equal(formatAddress(2, b, 0), '32.1.13.184');
    assert.equal(formatAddress(10, b, 0), '2001:db8::1');
    assert.equal(formatAddress(1, b, 0), '');
  });
});

describe('parseAddress', () => {
  const valid: [string, number, string][] = [
    ['0.0.0.0', 2, '0.0.0.0'],
    ['127.0.0.1', 2, '127.0.0.1'],
    ['255.255.255.255', 2, '255.255.255.255'],
    ['::', 10, '0:0:0:0:0:0:0:0'],
    ['::1', 10, '0:0:0:0:0:0:0:1'],
    ['1::', 10, '1:0:0:0:0:0:0:0'],
    ['2001:db8::2:1', 10, '2001:db8:0:0:0:0:2:1'],
    ['2001:DB8:0:0:0:0:2:1', 10, '2001:db8:0:0:0:0:2:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', 10, '2001:db8:0:0:0:0:2:1'],
    ['1:2:3:4:5:6:7::', 10, '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', 10, '0:2:3:4:5:6:7:8'],
    ['1::8', 10, '1:0:0:0:0:0:0:8'],
    ['::ffff:127.0.0.1', 10, '0:0:0:0:0:ffff:7f00:1'],
    ['::127.0.0.1', 10, '0:0:0:0:0:0:7f00:1'],
    ['::ffff:0:1.2.3.4', 10, '0:0:0:0:ffff:0:102:304'],
    ['1:2:3:4:5:6:1.2.3.4', 10, '1:2:3:4:5:6:102:304'],
    ['1::0:1.2.3.4', 10, '1:0:0:0:0:0:102:304'],
    ['fe80::1c2a:3bff:fe4d:5e6f', 10, 'fe80:0:0:0:1c2a:3bff:fe4d:5e6f'],
  ];
  for (const [text, family, full] of valid) {
    it(`parses ${text}`, () => {
      const r = parseAddress(text);
      assert.ok(r, text);
      assert.equal(r.family, family);
      const want = family === 2 ? new Uint8Array([...text.split('.').map(Number), ...new Array(12).fill(0)]) : groups(full);
      assert.equal(toHex(r.bytes), toHex(want));
    });
  }

  const invalid = [
    '',
    ' ',
    '1.2.3.256',
    '256.0.0.0',
    '1.2.3',
    '1.2.3.4.5',
    '1..2.3',
    '1.2.3.',
    '.1.2.3',
    '1.2.3.-1',
    '01.2.3.4',
    '0x1.2.3.4',
    '1e2.0.0.1',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '\uff11.2.3.4',
    'localhost',
    ':',
    ':::',
    '::::',
    '1::2::3',
    '12345::',
    '::12345',
    'g::1',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1::2:3:4:5:6:7:8',
    '1:2:3:4::5:6:7:8',
    ':1::',
    '1::2:',
    ':1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:',
    '::ffff:1.2.3',
    '::ffff:256.1.1.1',
    '::ffff:01.2.3.4',
    '1.2.3.4::',
    '::1.2.3.4:5',
    '1.2.3.4:1::',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:1.2.3.4',
    'fe80::1%eth0',
    '[::1]',
    '::1/128',
    '1:2:3:4:5:6:7:8 ',
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseAddress(text), undefined));
  }

  it('format(parse(x)) is the canonical text; parse(format(b)) gives back the bytes', () => {
    const texts = ['2001:DB8:0:0:1:0:0:1', '::FFFF:10.0.0.1', '0:0:0:0:0:0:0:1', '10.0.0.1', '2001:db8:0:1:1:1:1:1'];
    const canonical = ['2001:db8::1:0:0:1', '::ffff:10.0.0.1', '::1', '10.0.0.1', '2001:db8:0:1:1:1:1:1'];
    texts.forEach((t, i) => {
      const r = parseAddress(t);
      assert.ok(r);
      assert.equal(formatAddress(r.family, r.bytes, 0), canonical[i]);
      const again = parseAddress(canonical[i]);
      assert.ok(again);
      assert.equal(toHex(again.bytes), toHex(r.bytes));
    });
  });
});
