import { HttpError } from '../lib/errors.ts';
import type { Handler, Reply } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import type { Batcher } from './batcher.ts';
import type { Budget } from './budget.ts';
import { type DecodedWrite, decodeWriteRequest, type SeriesCache } from './decode.ts';
import {
  malformed,
  memoryBound,
  notMigrated,
  storageError,
  tooLarge,
  unsupportedEncoding,
} from './errors.ts';
import type { AdapterMetrics } from './metrics.ts';
import { snappyHeader, uncompressToScratch } from './snappy.ts';
import type { WriteChunk } from './store.ts';

export interface WriteDeps {
  batcher: Batcher<WriteChunk>;
  budget: Budget;
  cache: SeriesCache;
  metrics: AdapterMetrics;
  logger: Logger;
  /** Largest uncompressed body. */
  maxDecodedBytes: number;
  retryAfterMs: number;
  seriesRefreshMs: number;
  /** False until the schema is in place (503 meanwhile). */
  isMigrated: () => boolean;
  now?: () => number;
}

/** Per row: the 24 bytes of RowBinary, plus the decoded copy while decoding. */
const ROW = 24;

/** POST /write: remote write 1.0 (snappy block + protobuf WriteRequest). 204 only once stored. */
export function createWriteHandler(deps: WriteDeps): Handler {
  const { metrics, budget } = deps;
  const now = deps.now ?? Date.now;
  const reject = (err: HttpError, samples = 0): never => {
    metrics.rejected.inc({ reason: err.code, code: String(err.status) });
    metrics.requests.inc({ outcome: err.status >= 500 ? 'failed' : 'rejected' });
    if (err.status >= 500 && samples > 0) metrics.samplesRejected.inc({ reason: err.code }, samples);
    throw err;
  };

  return async (req): Promise<Reply> => {
    const enc = req.headers['content-encoding'];
    if (enc !== undefined && enc !== '' && enc.toLowerCase() !== 'snappy') reject(unsupportedEncoding(enc));
    if (!deps.isMigrated()) reject(notMigrated(deps.retryAfterMs));
    const body = req.body;
    if (body.length === 0) reject(malformed('malformed_snappy', 'empty body: expected a snappy block'));
    let declared = 0;
    try {
      // The snappy header declares the uncompressed length: check it before any allocation.
      declared = snappyHeader(body).length;
    } catch (err) {
      reject(err as HttpError);
    }
    if (declared > deps.maxDecodedBytes)
      reject(
        tooLarge(
          'decoded_too_large',
          `uncompressed body of ${declared} bytes exceeds the limit of ${deps.maxDecodedBytes} bytes`,
        ),
      );
    // Held until the answer: the body and its decoded rows.
    let held = body.length + declared;
    if (!budget.tryAcquire(held)) reject(memoryBound(budget.used, budget.limit, deps.retryAfterMs));
    let decoded: DecodedWrite | undefined;
    try {
      try {
        // Decompression and decoding run in one synchronous step: the scratch buffer is reused.
        decoded = decodeWriteRequest(uncompressToScratch(body), {
          cache: deps.cache,
          now: now(),
          refreshMs: deps.seriesRefreshMs,
          maxRowBytes: Math.max(deps.maxDecodedBytes * 2, ROW * 1024),
        });
      } catch (err) {
        if (err instanceof HttpError) reject(err);
        throw err;
      }
      metrics.samplesReceived.inc(decoded.samples);
      metrics.seriesCache.set(deps.cache.size);
      const rowsBytes = decoded.rows.length;
      budget.release(held - rowsBytes);
      held = rowsBytes;
      if (decoded.samples === 0 && decoded.metadata.length === 0 && decoded.seriesToStore.length === 0) {
        metrics.requests.inc({ outcome: 'stored' });
        return { status: 204 };
      }
      try {
        await deps.batcher.submit({
          rowsBuf: decoded.rows,
          rows: decoded.samples,
          series: decoded.seriesToStore,
          metadata: decoded.metadata,
        });
      } catch (err) {
        reject(storageError(err, deps.retryAfterMs), decoded.samples);
      }
      metrics.requests.inc({ outcome: 'stored' });
      return { status: 204 };
    } finally {
      budget.release(held);
    }
  };
}
