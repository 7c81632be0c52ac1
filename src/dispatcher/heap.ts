/**
 * An indexed max-heap over small integer ids, keyed by a shared score array: O(log n) updates when one
 * server's score changes after an allocation, and a bounded best-first walk for the top candidates.
 */
export class IndexedMaxHeap {
  private readonly items: number[] = [];
  private readonly pos: Int32Array;

  constructor(
    private readonly key: Float64Array,
    capacity: number,
  ) {
    this.pos = new Int32Array(capacity).fill(-1);
  }

  get size(): number {
    return this.items.length;
  }

  has(id: number): boolean {
    return this.pos[id]! >= 0;
  }

  /** Adds ids without ordering; call heapify() once after. */
  pushRaw(id: number): void {
    this.pos[id] = this.items.length;
    this.items.push(id);
  }

  heapify(): void {
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  top(): number | undefined {
    return this.items[0];
  }

  /** Restores order after key[id] changed. */
  update(id: number): void {
    const i = this.pos[id]!;
    if (i < 0) return;
    this.up(i);
    this.down(this.pos[id]!);
  }

  remove(id: number): void {
    const i = this.pos[id]!;
    if (i < 0) return;
    const last = this.items.pop()!;
    this.pos[id] = -1;
    if (i < this.items.length) {
      this.items[i] = last;
      this.pos[last] = i;
      this.up(i);
      this.down(this.pos[last]!);
    }
  }

  /**
   * The best ids in descending key order: at least `min` of them (when there are that many), plus every
   * further one whose key is ≥ `floor`, at most `max` in all. Ids in `skip` are passed over.
   */
  best(
    min: number,
    floor: number,
    max: number,
    skip: readonly number[] | undefined,
    out: number[],
  ): number[] {
    out.length = 0;
    if (this.items.length === 0) return out;
    const frontier: number[] = [0];
    const k = this.key;
    const items = this.items;
    while (frontier.length > 0 && out.length < max) {
      // The frontier stays tiny (≤ 2 × max), so a linear max search beats a second heap.
      let bi = 0;
      for (let i = 1; i < frontier.length; i++)
        if (k[items[frontier[i]!]!]! > k[items[frontier[bi]!]!]!) bi = i;
      const p = frontier[bi]!;
      frontier[bi] = frontier[frontier.length - 1]!;
      frontier.pop();
      const id = items[p]!;
      if (out.length >= min && k[id]! < floor) break;
      if (skip === undefined || !skip.includes(id)) out.push(id);
      const l = 2 * p + 1;
      if (l < items.length) frontier.push(l);
      if (l + 1 < items.length) frontier.push(l + 1);
    }
    return out;
  }

  private up(i: number): void {
    const items = this.items;
    const k = this.key;
    const id = items[i]!;
    const v = k[id]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pid = items[p]!;
      if (k[pid]! >= v) break;
      items[i] = pid;
      this.pos[pid] = i;
      i = p;
    }
    items[i] = id;
    this.pos[id] = i;
  }

  private down(i: number): void {
    const items = this.items;
    const k = this.key;
    const n = items.length;
    const id = items[i]!;
    const v = k[id]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && k[items[r]!]! > k[items[l]!]! ? r : l;
      if (k[items[c]!]! <= v) break;
      items[i] = items[c]!;
      this.pos[items[i]!] = i;
      i = c;
    }
    items[i] = id;
    this.pos[id] = i;
  }
}
