import { frameInPlace } from './frames.ts';
import { chunkSize, PbWriter, writeChunk } from './read-proto.ts';
import { MAX_SAMPLES_PER_CHUNK, XorEncoder } from './xor.ts';

/** Room left before a message for its field prefix and frame header. */
const HEADROOM = 32;

/**
 * Turns the samples of one series after another into framed `ChunkedReadResponse` messages, the way
 * Prometheus streams them: XOR chunks of at most 120 samples, at most one series per frame, a series
 * split over several frames (each repeating its labels) once a frame reaches `maxFrameBytes`.
 * Finished frames go to `emit` (copied: the writer reuses its buffers).
 */
export class ChunkedSeriesWriter {
  private readonly enc = new XorEncoder();
  private readonly w = new PbWriter(64 * 1024, HEADROOM);
  private labels: Uint8Array = new Uint8Array(0);
  private queryIndex = 0;
  private minT = 0;
  private maxT = 0;
  private chunksInFrame = 0;
  private open = false;

  constructor(
    private readonly emit: (frame: Buffer) => void,
    private readonly maxFrameBytes = 1024 * 1024,
  ) {}

  /** Starts a series with its pre-encoded labels (`repeated Label labels = 1`). */
  begin(labels: Uint8Array, queryIndex: number): void {
    if (this.open) this.end();
    this.labels = labels;
    this.queryIndex = queryIndex;
    this.open = true;
    this.startFrame();
  }

  /** Appends one sample (ascending time) with its value's low and high 32 bits. */
  append(t: number, lo: number, hi: number): void {
    if (this.enc.count === 0) this.minT = t;
    this.enc.append(t, lo, hi);
    this.maxT = t;
    if (this.enc.count >= MAX_SAMPLES_PER_CHUNK) this.cutChunk();
  }

  /** Ends the series: its last chunk and frame go out. */
  end(): void {
    if (!this.open) return;
    if (this.enc.count > 0) this.cutChunk();
    if (this.chunksInFrame > 0) this.flushFrame();
    this.open = false;
  }

  private startFrame(): void {
    this.w.pos = HEADROOM;
    this.w.raw(this.labels);
    this.chunksInFrame = 0;
  }

  private cutChunk(): void {
    const data = this.enc.bytes();
    writeChunk(this.w, this.minT, this.maxT, data);
    this.enc.reset();
    this.chunksInFrame++;
    // Like Prometheus, a frame may exceed the limit by at most one chunk.
    if (this.w.pos - HEADROOM + chunkSize(0, 0, 0) >= this.maxFrameBytes) {
      this.flushFrame();
      this.startFrame();
    }
  }

  private flushFrame(): void {
    const w = this.w;
    const start = w.prefix(HEADROOM, 1); // ChunkedReadResponse.chunked_series
    if (this.queryIndex !== 0) {
      w.tag(2, 0);
      w.int64(this.queryIndex);
    }
    const at = frameInPlace(w, start);
    this.emit(Buffer.from(w.bytes(at)));
    this.chunksInFrame = 0;
  }
}
