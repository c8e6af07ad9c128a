/**
 * Access to the recording in test/fixtures (see its README.md): the manifest, the .bin containers (parsed
 * here, independently of src/snapshot/replay.ts), the ss text and the /proc/net copies, and a dump of recorded
 * datagrams through runDump into a SocketTable, exactly as takeSnapshot does with a live socket.
 */
import { readFileSync } from 'node:fs';
import { appendInetMessage } from '../../src/diag/inet.js';
import { appendUnixMessage } from '../../src/diag/unix.js';
import { newReceiveBuffer, runDump, type DumpOutcome } from '../../src/snapshot/dump.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { replayReader } from './bytes.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

export interface RecordedDump {
  file: string;
  kind: 'legacy' | 'inet' | 'unix';
  family?: number;
  protocol?: number;
  states: number;
  ext?: number;
  show?: number;
  seq: number;
  requestType: number;
  requestHex: string;
  datagrams: number;
  bytes: number;
  messagesByType: Record<string, number>;
  errno: number;
}

export interface Manifest {
  kernel: string;
  dumps: RecordedDump[];
  population: unknown;
}

export const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
export const fixtureText = (name: string): string => fixture(name).toString('latin1');
export const manifest = (): Manifest => JSON.parse(fixture('manifest.json').toString('utf8')) as Manifest;
export const recordedDump = (file: string): RecordedDump => {
  const d = manifest().dumps.find((x) => x.file === file);
  if (!d) throw new Error(`${file} is not in test/fixtures/manifest.json`);
  return d;
};

/** The container: for every datagram, u32 little-endian length then the bytes. Each datagram is a copy. */
export function datagramsOf(file: string): Uint8Array[] {
  const b = fixture(file);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < b.byteLength) {
    if (b.byteLength - at < 4) throw new Error(`${file}: ${b.byteLength - at} stray bytes at ${at}`);
    const n = b.readUInt32LE(at);
    if (at + 4 + n > b.byteLength) throw new Error(`${file}: a ${n}-byte datagram at ${at} runs past the end`);
    out.push(new Uint8Array(b.subarray(at + 4, at + 4 + n)));
    at += 4 + n;
  }
  return out;
}

const PROTO_CODE: Record<number, number> = { 6: 1, 17: 2, 136: 3, 255: 4, 132: 5, 262: 6 }; // IPPROTO_* → Proto.*
const SOCK_TYPE: Record<number, number> = { 6: 1, 17: 2, 136: 2, 255: 3, 132: 1, 262: 1 };

/** Replay datagrams through runDump into a table, keeping attributes, as the recording's request expects. */
export function replay(
  d: RecordedDump,
  datagrams: Uint8Array[] = datagramsOf(d.file),
): {
  outcome: DumpOutcome;
  table: SocketTable;
  rejected: number;
  reads: number;
} {
  const table = new SocketTable(64, 0);
  let rejected = 0;
  const read = replayReader(datagrams);
  const protocol = d.kind === 'legacy' ? 6 : (d.protocol ?? 0);
  const outcome = runDump(read, newReceiveBuffer(), d.seq, d.requestType, (view, words, bytes, off, len) => {
    const ok =
      d.kind === 'unix'
        ? appendUnixMessage(table, view, bytes, off, len, true)
        : appendInetMessage(table, view, words, bytes, off, len, PROTO_CODE[protocol], SOCK_TYPE[protocol], true);
    if (!ok) rejected++;
  });
  return { outcome, table, rejected, reads: read.reads };
}

/** The netlink messages of a datagram, each as its own copy (nlmsg_len bytes, padding dropped). */
export function messagesOf(datagram: Uint8Array): Uint8Array[] {
  const v = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at + 16 <= datagram.byteLength; ) {
    const len = v.getUint32(at, true);
    out.push(datagram.slice(at, at + len));
    at += (len + 3) & ~3;
  }
  return out;
}

/** Messages back into one datagram: each padded to 4, nlmsg_len set to its unpadded length. */
export function datagramOf(messages: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(messages.reduce((n, m) => n + ((m.byteLength + 3) & ~3), 0));
  let at = 0;
  for (const m of messages) {
    out.set(m, at);
    new DataView(out.buffer).setUint32(at, m.byteLength, true);
    at += (m.byteLength + 3) & ~3;
  }
  return out;
}

/** A deterministic PRNG (mulberry32), so garbage variants are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
