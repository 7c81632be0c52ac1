import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import snappy from 'snappy';
import { compressionFailed, malformed } from './errors.ts';

/**
 * The adapter's one snappy module (block format, as remote write and read use it).
 *
 * Compression (remote-read answers) is the native library's. compressSync, not compress: snappy 7.4.3's
 * async compress never frees its output (measured: RSS grows by every answer's compressed size); the sync
 * one is freed by the GC as usual.
 */
export const compressBlock = (raw: Buffer): Buffer => snappy.compressSync(raw) as Buffer;

/**
 * Compresses the pieces of a large answer. `compress` takes `raw` (and the whole buffer it is a view of)
 * over until its promise settles, and gives that buffer back beside the block, for reuse.
 */
export interface PieceCompressor {
  compress(raw: Buffer): Promise<{ block: Buffer; raw: Buffer }>;
  close(): Promise<void>;
}

/** Compression in the calling thread. */
export const inlineCompressor: PieceCompressor = {
  compress: async (raw) => ({ block: compressBlock(raw), raw }),
  close: async () => {},
};

/** The worker's code (CommonJS, loaded with `eval`: the same in the sources and in the compiled package). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const snappy = require(workerData.snappy);
parentPort.on('message', ({ id, buf, offset, length }) => {
  let out;
  try {
    out = snappy.compressSync(Buffer.from(buf, offset, length));
  } catch (err) {
    parentPort.postMessage({ id, buf, error: String(err && err.message || err) }, [buf]);
    return;
  }
  // The block's memory moves back whole when it owns it; otherwise it is copied into memory that does.
  const own = out.byteOffset === 0 && out.buffer.byteLength === out.length ? out : new Uint8Array(out);
  try {
    parentPort.postMessage({ id, buf, block: own.buffer, length: own.length }, [buf, own.buffer]);
  } catch {
    const copy = new Uint8Array(own);
    parentPort.postMessage({ id, buf, block: copy.buffer, length: copy.length }, [buf, copy.buffer]);
  }
});
`;

/**
 * Compression on a worker thread, so that a large answer's compression (about 200 ms of CPU for the
 * 100 MB of 5.8 million samples) runs beside the encoding of its next pieces, not on the event loop.
 * `raw`'s memory moves to the worker and back (no copy): a view at the start of an ArrayBuffer of 64 KiB
 * or more (PbWriter's buffers); anything else, and any piece under 512 KiB, is compressed in the calling
 * thread.
 */
export function createWorkerCompressor(): PieceCompressor {
  const INLINE_BYTES = 512 * 1024;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { snappy: createRequire(import.meta.url).resolve('snappy') },
  });
  // Idle, it must not keep the process alive.
  worker.unref();
  const pending = new Map<
    number,
    { resolve: (r: { block: Buffer; raw: Buffer }) => void; reject: (e: Error) => void }
  >();
  let nextId = 0;
  let failed: Error | undefined;
  const failAll = (err: Error) => {
    failed = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on(
    'message',
    (m: { id: number; buf: ArrayBuffer; block?: ArrayBuffer; length?: number; error?: string }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (pending.size === 0) worker.unref();
      if (m.error !== undefined || !m.block) p.reject(compressionFailed(String(m.error)));
      else p.resolve({ block: Buffer.from(m.block, 0, m.length), raw: Buffer.from(m.buf) });
    },
  );
  worker.on('error', (err) => failAll(compressionFailed(err.message, err)));
  worker.on('exit', (code) => failAll(compressionFailed(`the compression worker exited with code ${code}`)));
  return {
    compress(raw) {
      // Larger than Node's 8 KiB pool and at its start: a view of memory of its own.
      const buf = raw.buffer;
      const own = buf instanceof ArrayBuffer && raw.byteOffset === 0 && buf.byteLength >= 64 * 1024;
      // A small piece (a small answer's only one) costs less here than a round trip to the worker.
      if (!own || failed || raw.length < INLINE_BYTES) return inlineCompressor.compress(raw);
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, buf, offset: 0, length: raw.length }, [buf]);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}

/**
 * Snappy block-format decompression into a reused buffer. The native `snappy` package allocates a fresh
 * buffer per request, and those allocations were most of the adapter's garbage collection under load
 * (see bench/ingest); the decoder here writes into one scratch buffer that the (synchronous) protobuf
 * decoder reads right away. Every read and copy is bounds-checked: malformed input is a 400, never a crash.
 */
let scratch = Buffer.allocUnsafe(1 << 20);

const bad = (msg: string): never => {
  throw malformed('malformed_snappy', `invalid snappy block: ${msg}`);
};

/** The uncompressed length the block declares (its varint header), and where the data starts. */
export function snappyHeader(src: Uint8Array): { length: number; offset: number } {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= src.length) return bad('truncated length header');
    const b = src[i]!;
    length += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (length > 0xffffffff) bad('declared length over 4 GiB');
      return { length, offset: i + 1 };
    }
  }
  return bad('length header longer than 5 bytes');
}

/**
 * Decompresses `src` and returns a view of the scratch buffer: valid only until the next call, so use it
 * synchronously. The caller checks the declared length against its limit first (snappyHeader).
 */
export function uncompressToScratch(src: Buffer): Buffer {
  const { length, offset } = snappyHeader(src);
  if (scratch.length < length) scratch = Buffer.allocUnsafe(Math.max(length, scratch.length * 2));
  const out = scratch;
  let op = 0;
  let ip = offset;
  const end = src.length;
  while (ip < end) {
    const tag = src[ip++]!;
    const type = tag & 3;
    if (type === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const n = len - 59;
        if (ip + n > end) bad('truncated literal length');
        len = 0;
        for (let k = 0; k < n; k++) len += src[ip + k]! * 2 ** (8 * k);
        ip += n;
      }
      len += 1;
      if (ip + len > end) bad('literal runs past the end of the input');
      if (op + len > length) bad('literal runs past the declared length');
      if (len < 16) for (let k = 0; k < len; k++) out[op + k] = src[ip + k]!;
      else src.copy(out, op, ip, ip + len);
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let off: number;
    if (type === 1) {
      if (ip >= end) bad('truncated copy');
      len = ((tag >>> 2) & 7) + 4;
      off = ((tag >>> 5) << 8) | src[ip++]!;
    } else if (type === 2) {
      if (ip + 2 > end) bad('truncated copy');
      len = (tag >>> 2) + 1;
      off = src[ip]! | (src[ip + 1]! << 8);
      ip += 2;
    } else {
      if (ip + 4 > end) bad('truncated copy');
      len = (tag >>> 2) + 1;
      off = (src[ip]! | (src[ip + 1]! << 8) | (src[ip + 2]! << 16)) + src[ip + 3]! * 0x1000000;
      ip += 4;
    }
    if (off === 0 || off > op) bad(`copy offset ${off} outside the output so far (${op} bytes)`);
    if (op + len > length) bad('copy runs past the declared length');
    const from = op - off;
    if (off >= len && len >= 16) out.copyWithin(op, from, from + len);
    else for (let k = 0; k < len; k++) out[op + k] = out[from + k]!;
    op += len;
  }
  if (op !== length) bad(`decompressed ${op} bytes, the header declares ${length}`);
  return out.subarray(0, length);
}
