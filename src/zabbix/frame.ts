/**
 * Zabbix's TCP framing (protocol 6.0): "ZBXD", a flags byte (0x01 protocol, 0x02 zlib, 0x04 large), the data
 * length and a reserved length (the uncompressed size when zlib is used), little-endian u32 (u64 with the
 * large flag). A streaming decoder with a size limit: a frame claiming more than the limit, a bad header or
 * bytes that are not a frame end the connection instead of growing memory.
 */
import { deflateSync, inflateSync } from 'node:zlib';

export const ZBXD = Buffer.from('ZBXD');
export const FLAG_PROTOCOL = 0x01;
export const FLAG_ZLIB = 0x02;
export const FLAG_LARGE = 0x04;
export const HEADER_SIZE = 13;
export const LARGE_HEADER_SIZE = 21;

export function encodeFrame(data: string | Buffer, o: { compress?: boolean } = {}): Buffer {
  const raw = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const body = o.compress ? deflateSync(raw) : raw;
  const head = Buffer.alloc(HEADER_SIZE);
  ZBXD.copy(head, 0);
  head[4] = FLAG_PROTOCOL | (o.compress ? FLAG_ZLIB : 0);
  head.writeUInt32LE(body.length, 5);
  head.writeUInt32LE(o.compress ? raw.length : 0, 9);
  return Buffer.concat([head, body]);
}

export type FrameEvent = { kind: 'frame'; data: Buffer } | { kind: 'error'; reason: string } | { kind: 'need-more' };

/** Feeds bytes in, takes whole frames out. After an error the decoder stays failed. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  private failed: string | undefined;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  /** Bytes buffered so far (bounded by the header's length check). */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next whole frame, or need-more, or an error (then close the connection). */
  next(): FrameEvent {
    if (this.failed) return { kind: 'error', reason: this.failed };
    if (this.size === 0) return { kind: 'need-more' };
    const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [buf];
    const prefix = Math.min(4, buf.length);
    if (buf.subarray(0, prefix).compare(ZBXD.subarray(0, prefix)) !== 0) return this.fail('not a ZBXD frame (unframed requests get no answer)');
    if (buf.length < 5) return { kind: 'need-more' };
    const flags = buf[4];
    if (!(flags & FLAG_PROTOCOL) || flags & ~(FLAG_PROTOCOL | FLAG_ZLIB | FLAG_LARGE)) return this.fail(`bad flags 0x${flags.toString(16)}`);
    const large = (flags & FLAG_LARGE) !== 0;
    const headerSize = large ? LARGE_HEADER_SIZE : HEADER_SIZE;
    if (buf.length < headerSize) return { kind: 'need-more' };
    const length = large ? Number(buf.readBigUInt64LE(5)) : buf.readUInt32LE(5);
    const reserved = large ? Number(buf.readBigUInt64LE(13)) : buf.readUInt32LE(9);
    if (length > this.maxBytes) return this.fail(`frame of ${length} bytes exceeds the ${this.maxBytes}-byte limit`);
    if (flags & FLAG_ZLIB && reserved > this.maxBytes) return this.fail(`compressed frame expands to ${reserved} bytes, over the ${this.maxBytes}-byte limit`);
    if (buf.length < headerSize + length) return { kind: 'need-more' };
    let data = buf.subarray(headerSize, headerSize + length);
    const rest = buf.subarray(headerSize + length);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    if (flags & FLAG_ZLIB) {
      try {
        data = inflateSync(data, { maxOutputLength: this.maxBytes });
      } catch (e) {
        return this.fail(`zlib data does not inflate: ${(e as Error).message}`);
      }
    }
    return { kind: 'frame', data };
  }

  private fail(reason: string): FrameEvent {
    this.failed = reason;
    this.chunks = [];
    this.size = 0;
    return { kind: 'error', reason };
  }
}
