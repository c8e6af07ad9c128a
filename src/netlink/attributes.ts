/**
 * Netlink attributes (struct nlattr): an iterator with typed getters and a sticky error, after mdlayher/netlink
 * attribute.go. A wrong-length read records the error and stops; nothing here throws. Unknown types are the
 * caller's to skip: a new kernel adding attributes must not break decoding.
 */
export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

const align4 = (n: number): number => (n + 3) & ~3;

export class AttributeDecoder {
  view: DataView;
  end: number;
  /** type of the current attribute, flags masked off */
  type = 0;
  /** offset of the current attribute's payload */
  offset = 0;
  /** payload length of the current attribute */
  length = 0;
  error: string | undefined;
  private nextOffset: number;

  constructor(view: DataView, start: number, end: number) {
    this.view = view;
    this.nextOffset = start;
    this.end = end;
  }

  reset(view: DataView, start: number, end: number): this {
    this.view = view;
    this.nextOffset = start;
    this.end = end;
    this.error = undefined;
    return this;
  }

  next(): boolean {
    const at = this.nextOffset;
    if (this.error !== undefined || at >= this.end) return false;
    if (this.end - at < NLA_HDRLEN) {
      // Trailing padding shorter than a header is legal; anything else is not.
      if (this.end - at > 0 && !isZero(this.view, at, this.end)) this.error = `truncated attribute header at offset ${at}`;
      return false;
    }
    const len = this.view.getUint16(at, true);
    if (len < NLA_HDRLEN || len > this.end - at) {
      this.error = `bad nla_len ${len} at offset ${at} (${this.end - at} bytes left)`;
      return false;
    }
    this.type = this.view.getUint16(at + 2, true) & NLA_TYPE_MASK;
    this.offset = at + NLA_HDRLEN;
    this.length = len - NLA_HDRLEN;
    this.nextOffset = at + align4(len);
    return true;
  }

  private need(size: number): boolean {
    if (this.length < size) {
      this.error ??= `attribute type ${this.type} has ${this.length} bytes, expected at least ${size}`;
      return false;
    }
    return true;
  }

  u8(): number {
    return this.need(1) ? this.view.getUint8(this.offset) : 0;
  }

  u16(): number {
    return this.need(2) ? this.view.getUint16(this.offset, true) : 0;
  }

  u32(): number {
    return this.need(4) ? this.view.getUint32(this.offset, true) : 0;
  }

  u64(): bigint {
    return this.need(8) ? this.view.getBigUint64(this.offset, true) : 0n;
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.view.buffer, this.view.byteOffset + this.offset, this.length).slice();
  }

  /** A NUL-terminated (or not) string payload. */
  string(): string {
    let end = this.offset + this.length;
    for (let i = this.offset; i < end; i++) {
      if (this.view.getUint8(i) === 0) {
        end = i;
        break;
      }
    }
    return new TextDecoder().decode(new Uint8Array(this.view.buffer, this.view.byteOffset + this.offset, end - this.offset));
  }

  /** A decoder over the current attribute's payload, for nested attributes. */
  nested(): AttributeDecoder {
    return new AttributeDecoder(this.view, this.offset, this.offset + this.length);
  }
}

function isZero(view: DataView, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (view.getUint8(i) !== 0) return false;
  return true;
}

const finder = new AttributeDecoder(new DataView(new ArrayBuffer(0)), 0, 0);

/**
 * The payload's offset of the first attribute of `type` within [start, end), or -1: AttributeDecoder#next's walk
 * (the one attribute walk: it stops at a broken header), for hot loops (no array per call). Its length is
 * view.getUint16(offset - NLA_HDRLEN) - NLA_HDRLEN.
 */
export function findAttributeOffset(view: DataView, start: number, end: number, type: number): number {
  const d = finder.reset(view, start, end);
  while (d.next()) if (d.type === type) return d.offset;
  return -1;
}

/** findAttributeOffset as [offset, length] of the payload, or undefined. */
export function findAttribute(view: DataView, start: number, end: number, type: number): [number, number] | undefined {
  const at = findAttributeOffset(view, start, end, type);
  return at < 0 ? undefined : [at, finder.length];
}

/** Encode one attribute (header + payload, padded to 4). */
export function encodeAttribute(type: number, payload: Uint8Array): Uint8Array {
  const len = NLA_HDRLEN + payload.byteLength;
  const out = new Uint8Array(align4(len));
  const v = new DataView(out.buffer);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(payload, NLA_HDRLEN);
  return out;
}
