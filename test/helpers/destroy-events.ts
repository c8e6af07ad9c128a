/** The recorded destroy events (test/fixtures/lifecycle/destroy-events.json, made by record-destroy-events.ts) and their decoding. */
import { readFileSync } from 'node:fs';
import { appendDestroyDatagram, type EventCounts } from '../../src/lifecycle/events.js';
import { SocketTable } from '../../src/snapshot/table.js';

const FIXTURE = new URL('../../../test/fixtures/lifecycle/destroy-events.json', import.meta.url);
export const recordedDatagrams = (): Uint8Array[] =>
  (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { datagrams: string[] }).datagrams.map((b) => new Uint8Array(Buffer.from(b, 'base64')));

/** Decode datagrams as the subscription thread does: each into one reused receive buffer. */
export function decode(datagrams: Uint8Array[], table = new SocketTable(16, 4096)): { table: SocketTable; counts: EventCounts } {
  const bytes = new Uint8Array(65536);
  const view = new DataView(bytes.buffer);
  const words = new Uint32Array(bytes.buffer);
  const counts: EventCounts = { events: 0, malformed: 0 };
  for (const d of datagrams) {
    bytes.set(d);
    appendDestroyDatagram(table, view, words, bytes, d.byteLength, counts);
  }
  return { table, counts };
}
