/**
 * The recorded kernel answers in test/fixtures (see its README): a responder for replayTransport that answers
 * each request with the recording made for the same request, so takeSnapshot/takeCensus run end to end on
 * real datagrams.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { splitDatagrams, type ReplayRequest } from '../../src/snapshot/replay.js';
import { done } from './bytes.js';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

/** One recorded dump: its datagrams in the order recv() returned them. */
export const loadDatagrams = (file: string): Uint8Array[] => splitDatagrams(new Uint8Array(readFileSync(`${FIXTURES}${file}`)));

const PROTO_FILE: Record<number, string> = { 6: 'tcp', 17: 'udp', 136: 'udplite', 255: 'raw', 132: 'sctp' };

/** Answer each request with the recording made for the same request. */
export function recordedAnswer(req: ReplayRequest): Uint8Array[] {
  const ext = req.type === 18 ? req.body[3] : req.body[2];
  const kind = ext === 0 ? 'census' : 'ext255';
  if (req.type === 18) return loadDatagrams(`tcp-legacy-${kind}.bin`);
  const family = req.body[0];
  if (family === 1) return loadDatagrams('unix-show7f.bin');
  // the other families ls -a lists: netlink and packet from their own recording (families/README.md), vsock and
  // XDP answered as this kernel answers them (ENOENT: no diag module)
  if (family === 16) return loadDatagrams('families/netlink.bin');
  if (family === 17) return loadDatagrams('families/packet.bin');
  if (family === 40 || family === 44) return [done(0, 2)];
  const fam = family === 10 ? 'inet6' : 'inet';
  // MPTCP travels as INET_DIAG_REQ_PROTOCOL (attribute 3) after the 56-byte body
  const proto = req.body.byteLength > 56 && req.body[58] === 3 ? 'mptcp' : PROTO_FILE[req.body[1]];
  if (proto === 'tcp') return loadDatagrams(`tcp-v2-${fam}-${kind}.bin`);
  return loadDatagrams(`${proto}-v2-${fam}-ext255.bin`);
}
