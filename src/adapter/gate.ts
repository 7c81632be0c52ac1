import { readQueueTimeout } from './errors.ts';

/** A counting semaphore whose waiters give up after a timeout (remote read's `read.max-concurrent`). */
export function createGate(max: number) {
  let running = 0;
  const waiters: (() => void)[] = [];
  const release = () => {
    const next = waiters.shift();
    if (next) next();
    else running--;
  };
  return {
    get running() {
      return running;
    },
    /** Resolves with a release function (call it once), or rejects with a 503 after `timeoutMs`. */
    acquire(timeoutMs: number): Promise<() => void> {
      const once = () => {
        let done = false;
        return () => {
          if (done) return;
          done = true;
          release();
        };
      };
      if (running < max) {
        running++;
        return Promise.resolve(once());
      }
      return new Promise((resolve, reject) => {
        const grant = () => {
          clearTimeout(timer);
          resolve(once());
        };
        const timer = setTimeout(() => {
          const i = waiters.indexOf(grant);
          if (i >= 0) waiters.splice(i, 1);
          reject(readQueueTimeout(max, timeoutMs));
        }, timeoutMs);
        waiters.push(grant);
      });
    },
  };
}

export type Gate = ReturnType<typeof createGate>;
