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
 * Group commit: concurrent requests share one ClickHouse insert. When no insert is running, a batch leaves
 * at once with whatever waits (no added latency when idle); while one runs, new items gather for the next,
 * which leaves when the running one ends, when it is full, or when its oldest item has waited
 * `maxDelayMs` (then up to `maxConcurrent` inserts overlap). So the busier ClickHouse is, the larger and
 * fewer the inserts. Every item learns its own batch's outcome.
 */
export function createBatcher<T extends BatchItem>(opts: BatcherOptions<T>): Batcher<T> {
  const now = opts.now ?? Date.now;
  let queue: Waiting<T>[] = [];
  let queuedRows = 0;
  let active = 0;
  let inFlightItems = 0;
  let timer: NodeJS.Timeout | undefined;
  let closing = false;
  let drained: (() => void) | undefined;

  const arm = () => {
    if (timer || queue.length === 0) return;
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
      // Idle ClickHouse: go now (the leader of a group commit); busy: let the next batch fill up.
      (closing || active === 0 || queuedRows >= opts.maxRows || now() - queue[0]!.at >= opts.maxDelayMs)
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
      opts
        .flush(batch.map((w) => w.item))
        .then(
          () => {
            for (const w of batch) w.resolve();
          },
          (err: unknown) => {
            for (const w of batch) w.reject(err);
          },
        )
        .finally(() => {
          active--;
          inFlightItems -= batch.length;
          pump();
        });
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
        if (active === 0 || queuedRows >= opts.maxRows) pump();
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
