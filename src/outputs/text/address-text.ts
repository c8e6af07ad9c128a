/** Address text for the direct writers (socket-ndjson.ts, ls-table.ts, socketstat-influx.ts). */
import { formatIPv6 } from '../../diag/address.js';
import { AF_INET, AF_INET6 } from '../../diag/constants.js';

const DEC: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/**
 * formatAddress(family, bytes, i * 16), remembering the last address: a listing repeats its local addresses,
 * and often its peers. One per column.
 */
export class AddressText {
  private family = -1;
  private readonly key = new Uint32Array(4);
  private text = '';

  of(fam: number, bytes: Uint8Array, words: Uint32Array, i: number): string {
    const w = i << 2;
    const key = this.key;
    if (fam === AF_INET) {
      if (this.family === AF_INET && key[0] === words[w]) return this.text;
      const a = i << 4;
      this.text = `${DEC[bytes[a]]}.${DEC[bytes[a + 1]]}.${DEC[bytes[a + 2]]}.${DEC[bytes[a + 3]]}`;
    } else if (fam === AF_INET6) {
      if (this.family === AF_INET6 && key[0] === words[w] && key[1] === words[w + 1] && key[2] === words[w + 2] && key[3] === words[w + 3]) {
        return this.text;
      }
      this.text = formatIPv6(bytes, i << 4);
    } else {
      return '';
    }
    this.family = fam;
    key[0] = words[w];
    key[1] = words[w + 1];
    key[2] = words[w + 2];
    key[3] = words[w + 3];
    return this.text;
  }
}
