/**
 * Attribute payloads as text, decoded exactly as the decoders decode them (AttributeDecoder#string,
 * decodeUnixAttributes' name), for the writers that read attribute bytes directly (socket-ndjson.ts, ls-table.ts).
 */
/**
 * A NUL-terminated string payload, decoded as AttributeDecoder#string() does (UTF-8 with replacement
 * characters, a leading BOM dropped); ASCII, the usual case, without a TextDecoder.
 */
export function cString(view: DataView, off: number, len: number): string {
  let end = off + len;
  let ascii = true;
  for (let i = off; i < end; i++) {
    const b = view.getUint8(i);
    if (b === 0) {
      end = i;
      break;
    }
    if (b >= 0x80) ascii = false;
  }
  if (!ascii) return new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + off, end - off));
  let s = '';
  for (let i = off; i < end; i++) s += String.fromCharCode(view.getUint8(i));
  return s;
}

/** A unix socket's name, decoded as decodeUnixAttributes does (a path ends at its NUL; abstract: NULs as '@'). */
export function unixName(view: DataView, off: number, len: number): string {
  let n = len;
  if (n > 0 && view.getUint8(off) !== 0) {
    for (let i = 0; i < len; i++) {
      if (view.getUint8(off + i) === 0) {
        n = i;
        break;
      }
    }
  }
  let s = '';
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const b = view.getUint8(off + i);
    if (b >= 0x80) ascii = false;
    s += b === 0 ? '@' : String.fromCharCode(b);
  }
  if (ascii) return s; // the UTF-8 decoding of ASCII is its latin-1 rendering
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(view.buffer, view.byteOffset + off, n)).replace(/\0/g, '@');
  } catch {
    return s;
  }
}
