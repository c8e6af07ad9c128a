/**
 * buffer_strategy = "disk": a write-ahead log under a push output's buffer, so what the output accepted survives
 * kill -9, an OOM kill or a crash of the agent, and is sent after the restart.
 *
 * Layout of the directory (one per output): segment files `<16-digit number>.wal`, each a run of records
 *
 *     u32 LE payload length | u32 LE CRC-32 of the payload | payload (one add(): a gather's items, encoded)
 *
 * and `head`, which says where the first item not yet delivered (nor dropped) is: {segment, offset, skip} — the
 * record at byte `offset` of `segment`, its first `skip` items already gone. Segments wholly behind the head are
 * deleted; a segment is closed for appends past SEGMENT_BYTES.
 *
 * Durability: a record is written with write(2) before add() returns, so once an output has accepted a gather
 * it is in the kernel's page cache and survives the death of the process; fdatasync(2) follows asynchronously
 * (at most one in flight), so a power loss or kernel crash can lose the records of the last moments. The head is
 * rewritten (write + rename) after each delivered batch: a crash between a delivery and that rewrite sends that
 * batch again after the restart (InfluxDB overwrites identical points; Zabbix stores them twice).
 *
 * Recovery: records are read from the head on; a record cut short at the end of the last segment (a torn write)
 * or failing its CRC ends that segment's reading, is counted (torn), and the last segment is truncated to its
 * last good record so new records follow good ones.
 *
 * Bounds: the output's limit in items, as in memory: items dropped from the buffer (oldest first) move the head
 * too, so the files hold at most the limit plus one segment.
 */
import {
  accessSync,
  closeSync,
  constants,
  fdatasync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { SockscopeError, systemErrorFacts } from '../errors.js';

export interface Codec<T> {
  encode(items: readonly T[]): Buffer;
  decode(payload: Buffer): T[];
}

/** Segments are closed for appends beyond this size. */
const SEGMENT_BYTES = 4 << 20;
const HEADER = 8;

interface Rec {
  segment: number;
  offset: number;
  count: number;
}

const segName = (n: number) => `${String(n).padStart(16, '0')}.wal`;

export class DiskBuffer<T> {
  /** records not wholly delivered or dropped, oldest first */
  private readonly recs: Rec[] = [];
  /** items of recs[0] already gone */
  private skip = 0;
  private segment = 0;
  private fd = -1;
  private size = 0;
  private syncing = false;
  private dirty = false;
  /** records found torn or corrupt when the directory was read */
  torn = 0;

  private constructor(
    readonly dir: string,
    private readonly codec: Codec<T>,
  ) {}

  /** A configuration error naming `key` unless `dir` can be created and written. */
  static check(dir: string, key: string): void {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new SockscopeError(
        'ESOCKSCOPE_CONFIG',
        `config: ${key} = ${JSON.stringify(dir)}: expected a writable directory for the disk buffer (${err.code ?? err.message})`,
        { key, value: dir, ...systemErrorFacts(e) },
      );
    }
  }

  /** Open (creating) `dir` and read back what was not delivered; `items` are those, oldest first. */
  static open<T>(dir: string, codec: Codec<T>, key: string): { wal: DiskBuffer<T>; items: T[] } {
    const wal = new DiskBuffer(dir, codec);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const items = wal.recover();
      wal.openSegment(wal.segment);
      return { wal, items };
    } catch (e) {
      if (e instanceof SockscopeError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new SockscopeError(
        'ESOCKSCOPE_CONFIG',
        `config: ${key} = ${JSON.stringify(dir)}: expected a writable directory for the disk buffer (${err.code ?? err.message})`,
        { key, value: dir, ...systemErrorFacts(e) },
      );
    }
  }

  private recover(): T[] {
    let head = { segment: 0, offset: 0, skip: 0 };
    try {
      head = { ...head, ...JSON.parse(readFileSync(join(this.dir, 'head'), 'utf8')) };
    } catch {
      /* no head yet: from the first segment */
    }
    const segments = readdirSync(this.dir)
      .filter((f) => /^\d{16}\.wal$/.test(f))
      .map((f) => Number(f.slice(0, 16)))
      .sort((a, b) => a - b);
    const items: T[] = [];
    for (const [k, seg] of segments.entries()) {
      const path = join(this.dir, segName(seg));
      if (seg < head.segment) {
        rmSync(path, { force: true }); // wholly delivered; its deletion was cut short
        continue;
      }
      const bytes = readFileSync(path);
      let at = seg === head.segment ? head.offset : 0;
      let good = at;
      while (at < bytes.length) {
        const len = at + HEADER <= bytes.length ? bytes.readUInt32LE(at) : -1;
        if (len < 0 || at + HEADER + len > bytes.length || crc32(bytes.subarray(at + HEADER, at + HEADER + len)) !== bytes.readUInt32LE(at + 4)) {
          this.torn++;
          break;
        }
        const decoded = this.codec.decode(bytes.subarray(at + HEADER, at + HEADER + len));
        const skip = seg === head.segment && at === head.offset ? head.skip : 0; // only the head record has gone items
        if (decoded.length > skip) {
          if (this.recs.length === 0) this.skip = skip;
          this.recs.push({ segment: seg, offset: at, count: decoded.length });
          for (let i = skip; i < decoded.length; i++) items.push(decoded[i]);
        }
        at += HEADER + len;
        good = at;
      }
      if (good < bytes.length && k === segments.length - 1) {
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, good); // new records follow the last good one
        closeSync(fd);
      }
      this.segment = seg;
    }
    // the head now points at the first record read back, whole (skipped items were left out of it)
    if (this.recs.length) this.segment = Math.max(this.segment, this.recs[this.recs.length - 1].segment);
    this.segment = Math.max(this.segment, head.segment);
    return items;
  }

  private openSegment(n: number): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.segment = n;
    this.fd = openSync(join(this.dir, segName(n)), 'a', 0o600);
    this.size = statSync(join(this.dir, segName(n))).size;
  }

  /** Append one record (before returning: write(2) done; fdatasync(2) follows). */
  append(items: readonly T[]): void {
    if (!items.length) return;
    if (this.size >= SEGMENT_BYTES) this.openSegment(this.segment + 1);
    const payload = this.codec.encode(items);
    const rec = Buffer.allocUnsafe(HEADER + payload.length);
    rec.writeUInt32LE(payload.length, 0);
    rec.writeUInt32LE(crc32(payload), 4);
    payload.copy(rec, HEADER);
    let done = 0;
    while (done < rec.length) done += writeSync(this.fd, rec, done);
    this.recs.push({ segment: this.segment, offset: this.size, count: items.length });
    this.size += rec.length;
    this.sync();
  }

  private sync(): void {
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = true;
    this.dirty = false;
    const fd = this.fd;
    fdatasync(fd, () => {
      this.syncing = false;
      if (this.dirty && this.fd >= 0) this.sync();
    });
  }

  /** The oldest n items are gone (delivered, refused or dropped): move the head, delete segments behind it. */
  consume(n: number): void {
    if (n <= 0) return;
    while (n > 0 && this.recs.length) {
      const left = this.recs[0].count - this.skip;
      if (n >= left) {
        n -= left;
        this.recs.shift();
        this.skip = 0;
      } else {
        this.skip += n;
        n = 0;
      }
    }
    const first = this.recs[0];
    const head = first ? { segment: first.segment, offset: first.offset, skip: this.skip } : { segment: this.segment, offset: this.size, skip: 0 };
    const tmp = join(this.dir, 'head.tmp');
    writeFileSync(tmp, JSON.stringify(head));
    renameSync(tmp, join(this.dir, 'head'));
    for (const f of readdirSync(this.dir)) {
      if (/^\d{16}\.wal$/.test(f) && Number(f.slice(0, 16)) < head.segment) rmSync(join(this.dir, f), { force: true });
    }
  }

  /** Items on disk not yet gone. */
  get pending(): number {
    return this.recs.reduce((n, r) => n + r.count, 0) - this.skip;
  }

  /** Stop appending; the files stay (read back at the next start). */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Close and delete the files (their items went elsewhere, or were given up). */
  destroy(): void {
    this.close();
    for (const f of readdirSync(this.dir)) if (/^(\d{16}\.wal|head(\.tmp)?)$/.test(f)) rmSync(join(this.dir, f), { force: true });
  }
}
