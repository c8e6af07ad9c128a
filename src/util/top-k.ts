/**
 * Keeps the k largest (count, key) pairs seen, in descending count order (ties: smaller key first), without
 * sorting or allocating per candidate: insertion into a k-long array, which is cheap for the small k people read.
 */
export class TopK<K> {
  readonly items: { key: K; count: number }[] = [];

  constructor(
    readonly k: number,
    private readonly compareKeys: (a: K, b: K) => number,
  ) {}

  /** Would (count, key) enter the list? Checked before building a key that costs something. */
  admits(count: number): boolean {
    return this.k > 0 && (this.items.length < this.k || count >= this.items[this.items.length - 1].count);
  }

  offer(key: K, count: number): void {
    if (!this.admits(count)) return;
    const items = this.items;
    let i = items.length;
    while (i > 0 && (items[i - 1].count < count || (items[i - 1].count === count && this.compareKeys(items[i - 1].key, key) > 0))) i--;
    if (i >= this.k) return;
    items.splice(i, 0, { key, count });
    if (items.length > this.k) items.pop();
  }
}
