/**
 * The memory bound: bytes held by requests between reading their body and ClickHouse's answer.
 * `tryAcquire` refuses instead of waiting, so an overloaded adapter answers 503 at once.
 */
export interface Budget {
  tryAcquire(bytes: number): boolean;
  release(bytes: number): void;
  readonly used: number;
  readonly limit: number;
}

export function createBudget(limit: number, onChange?: (used: number) => void): Budget {
  let used = 0;
  return {
    tryAcquire(bytes) {
      // One request larger than the whole bound still passes when nothing else is held.
      if (used > 0 && used + bytes > limit) return false;
      used += bytes;
      onChange?.(used);
      return true;
    },
    release(bytes) {
      used = Math.max(0, used - bytes);
      onChange?.(used);
    },
    get used() {
      return used;
    },
    limit,
  };
}
