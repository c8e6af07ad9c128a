/**
 * Counts per u32 key (an IPv4 address word) in an open-addressing table of typed arrays: no Map entries, no
 * boxing, one multiply per lookup. Grows at 50% load.
 */
export class U32Counter {
  private keys: Uint32Array;
  private counts: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  size = 0;

  constructor(capacityPow2 = 1024) {
    this.keys = new Uint32Array(capacityPow2);
    this.counts = new Uint32Array(capacityPow2);
    this.used = new Uint8Array(capacityPow2);
    this.mask = capacityPow2 - 1;
  }

  add(key: number, n = 1): void {
    let i = (Math.imul(key, 0x9e3779b1) >>> 0) & this.mask;
    const keys = this.keys;
    const used = this.used;
    while (used[i] !== 0) {
      if (keys[i] === key) {
        this.counts[i] += n;
        return;
      }
      i = (i + 1) & this.mask;
    }
    used[i] = 1;
    keys[i] = key;
    this.counts[i] = n;
    if (++this.size * 2 > this.mask) this.grow();
  }

  private grow(): void {
    const { keys, counts, used } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.counts = new Uint32Array(keys.length * 2);
    this.used = new Uint8Array(keys.length * 2);
    this.mask = keys.length * 2 - 1;
    this.size = 0;
    for (let i = 0; i < keys.length; i++) if (used[i]) this.add(keys[i], counts[i]);
  }

  forEach(fn: (key: number, count: number) => void): void {
    for (let i = 0; i < this.keys.length; i++) if (this.used[i]) fn(this.keys[i], this.counts[i]);
  }
}
