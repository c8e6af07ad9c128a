/** Socket rows for the tracker's tests: the recorded IPv4 TCP client's destroy message with the numbers under test written in. */
import { InetAttr, TCP_LISTEN } from '../../src/diag/constants.js';
import type { SocketTable } from '../../src/snapshot/table.js';
import { decode, recordedDatagrams } from './destroy-events.js';

export interface Conn {
  cookie: number;
  sport: number;
  dport: number;
  state?: number;
  acked?: number;
  received?: number;
  retrans?: number;
  rttUs?: number;
  info?: boolean;
}

/** The recorded IPv4 TCP client's datagram, patched. */
function message(c: Conn): Uint8Array {
  const base = recordedDatagrams().find((d) => {
    const v = new DataView(d.buffer);
    return d[16] === 2 && v.getUint16(16 + 6) === 5001; // AF_INET, dport 5001 (network order)
  })!;
  const d = base.slice();
  const v = new DataView(d.buffer);
  v.setUint8(16 + 1, c.state ?? 7);
  v.setUint16(16 + 4, c.sport);
  v.setUint16(16 + 6, c.dport);
  v.setUint32(16 + 44, c.cookie, true);
  v.setUint32(16 + 48, 0, true);
  for (let at = 16 + 72; at + 4 <= d.byteLength; ) {
    const len = v.getUint16(at, true);
    if (v.getUint16(at + 2, true) === InetAttr.INFO) {
      const o = at + 4;
      if (c.info === false) v.setUint16(at + 2, 250, true); // no tcp_info (a TIME_WAIT row has none)
      v.setUint32(o + 120, c.acked ?? 0, true);
      v.setUint32(o + 124, 0, true);
      v.setUint32(o + 128, c.received ?? 0, true);
      v.setUint32(o + 132, 0, true);
      v.setUint32(o + 100, c.retrans ?? 0, true);
      v.setUint32(o + 68, c.rttUs ?? 50, true);
    }
    at += (len + 3) & ~3;
  }
  return d;
}

export const connTable = (...conns: Conn[]): SocketTable => decode(conns.map(message)).table;
export const listener = (port: number): Conn => ({ cookie: 900000 + port, sport: port, dport: 0, state: TCP_LISTEN });
