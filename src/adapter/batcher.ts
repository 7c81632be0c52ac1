import type { Logger } from '../lib/logger.ts';
import { StorageError } from './errors.ts';

/** Something to store; `rows` counts toward the batch size. */
export interface BatchItem {
  readonly rows: number;
}

export interface BatcherOptions<T extends BatchItem> {
  /** Stores a whole batch; resolves only once ClickHouse confirmed it. */
  flush(items: readonly T[]): Promise<void>;
  /** A batch is sent as soon as it holds this many rows. */
  maxRows: number;
  /**
   * A batch this large leaves as soon as an insert slot is free, without waiting for the other writers:
   * past it, ClickHouse's cost per row hardly falls (bench/ingest/insert-cost.ts). @default 0 (off)
   */
  minRows?: number;
  /** The longest an item waits for others to join its batch. */
  maxDelayMs: number;
  /** Batches being stored at the same time. */
  maxConcurrent: number;
  logger?: Logger;
  now?: () => number;
}

export interface Batcher<T extends BatchItem> {
  /** Resolves when the item's batch is stored; rejects with the batch's error. */
  submit(item: T): Promise<void>;
  /** Items waiting plus items being stored. */
  readonly pending: number;
  /** Stores what is waiting and waits for every batch in flight; later submits fail with 503. */
  close(): Promise<void>;
}

interface Waiting<T> {
  item: T;
  at: number;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit: concurrent requests share one ClickHouse insert. Each ClickHouse insert costs a fixed few
 * milliseconds of ClickHouse CPU (a new part, merged later) besides its rows (bench/ingest/insert-cost.ts), so inserts
 * should be few and large, without holding a request longer than it must.
 *
 * The writers are counted: the most requests waiting or being stored at once over the last one to two
 * seconds (Prometheus sends one request per shard at a time, so with 8 shards that is 8). When no insert is
 * running, a batch leaves as soon as it holds that many requests, i.e. everybody who could join has joined
 * (a lone writer's request leaves at once: no added latency when idle). A batch of `minRows` leaves as
 * soon as an insert slot is free, without waiting for the other writers. While inserts run, new requests
 * gather for the next batch, which leaves when a running insert ends and it holds every writer, when it is
 * full, or when its oldest item has waited `maxDelayMs`; then up to `maxConcurrent` inserts overlap. A
 * writer that went quiet costs at most `maxDelayMs` per batch until the count forgets it. Every item learns
 * its own batch's outcome.
 */
export function createBatcher<T extends BatchItem>(opts: BatcherOptions<T>): Batcher<T> {
  const now = opts.now ?? Date.now;
  const minRows = opts.minRows ?? 0;
  let queue: Waiting<T>[] = [];
  let queuedRows = 0;
  let active = 0;
  let inFlightItems = 0;
  let timer: NodeJS.Timeout | undefined;
  let closing = false;
  let drained: (() => void) | undefined;
  // The most items waiting or being stored at once: in this window and in the one before.
  let peakNow = 0;
  let peakBefore = 0;
  let windowStart = now();
  const WINDOW_MS = 1_000;
  const observe = () => {
    const t = now();
    if (t - windowStart >= WINDOW_MS) {
      peakBefore = t - windowStart >= 2 * WINDOW_MS ? 0 : peakNow;
      peakNow = 0;
      windowStart = t;
    }
    peakNow = Math.max(peakNow, queue.length + inFlightItems);
  };
  const writers = () => Math.max(1, peakNow, peakBefore);

  const arm = () => {
    // At maxConcurrent the next insert to end pumps again: no timer (it would spin until then).
    if (timer || queue.length === 0 || active >= opts.maxConcurrent) return;
    const wait = Math.max(0, queue[0]!.at + opts.maxDelayMs - now());
    timer = setTimeout(() => {
      timer = undefined;
      pump();
    }, wait);
  };

  const pump = () => {
    while (
      queue.length > 0 &&
      active < opts.maxConcurrent &&
      (closing ||
        // No insert running and every writer is in: go now.
        (active === 0 && queue.length >= writers()) ||
        queuedRows >= opts.maxRows ||
        // Large enough to be worth an insert of its own: go, overlapping a running one.
        (minRows > 0 && queuedRows >= minRows) ||
        now() - queue[0]!.at >= opts.maxDelayMs)
    ) {
      let rows = 0;
      let n = 0;
      while (n < queue.length && (n === 0 || rows + queue[n]!.item.rows <= opts.maxRows)) {
        rows += queue[n]!.item.rows;
        n++;
      }
      const batch = queue.slice(0, n);
      queue = queue.slice(n);
      queuedRows -= rows;
      active++;
      inFlightItems += batch.length;
      // The count moves before the items learn their outcome: a writer that sends again at once must not
      // find its previous request still counted (it would wait for itself).
      const settle = (err?: unknown) => {
        active--;
        inFlightItems -= batch.length;
        for (const w of batch)
          if (err === undefined) w.resolve();
          else w.reject(err);
        pump();
      };
      opts.flush(batch.map((w) => w.item)).then(
        () => settle(),
        (err: unknown) => settle(err ?? new Error('flush failed')),
      );
    }
    if (queue.length > 0) arm();
    else {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (active === 0) drained?.();
    }
  };

  return {
    submit(item) {
      if (closing) return Promise.reject(new StorageError('shutting_down', 'the adapter is shutting down'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ item, at: now(), resolve, reject });
        queuedRows += item.rows;
        observe();
        if (
          (active === 0 && queue.length >= writers()) ||
          queuedRows >= opts.maxRows ||
          (minRows > 0 && queuedRows >= minRows)
        )
          pump();
        else arm();
      });
    },
    get pending() {
      return queue.length + inFlightItems;
    },
    async close() {
      closing = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (queue.length === 0 && active === 0) return;
      const done = new Promise<void>((r) => {
        drained = r;
      });
      pump();
      await done;
    },
  };
}
