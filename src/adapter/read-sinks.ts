import { ChunkedSeriesWriter } from './chunks.ts';
import { PbWriter, writeTimeSeries } from './read-proto.ts';
import type { SeriesSink } from './read-samples.ts';
import type { SelectedSeries } from './read-series.ts';
import { compressBlock, type PieceCompressor } from './snappy.ts';

/** The element stream of a snappy block: its varint length header skipped. */
function snappyElements(block: Buffer): Buffer {
  let i = 0;
  while (i < block.length && block[i]! >= 0x80) i++;
  return block.subarray(i + 1);
}

/**
 * Builds one `QueryResult` of a SAMPLES answer and snappy-compresses it while it grows, every few MiB
 * of encoded series, so the uncompressed answer is never whole in memory. A snappy block is a length
 * header and a stream of elements whose copies only reach back into earlier output, so the element
 * streams of consecutive pieces concatenate into one valid block (`snappyBlock` writes the header for
 * the whole). With a worker compressor, pieces are compressed beside the encoding of the next ones; at
 * most `MAX_IN_FLIGHT` at once (`series` then returns a promise to wait on), their buffers reused.
 */
export class SamplesResultSink implements SeriesSink {
  private readonly w: PbWriter;
  private readonly pieces: Promise<Buffer>[] = [];
  private readonly spare: Buffer[] = [];
  private inFlight = 0;
  private wake: (() => void) | undefined;
  /** Uncompressed bytes of the QueryResult so far. */
  private bytes = 0;
  seriesCount = 0;
  samples = 0;

  constructor(
    private readonly compressor: PieceCompressor,
    private readonly pieceBytes = 4 * 1024 * 1024,
  ) {
    this.w = new PbWriter(pieceBytes + 64 * 1024);
  }

  series(
    s: SelectedSeries,
    ts: Float64Array,
    vals: Uint32Array,
    from: number,
    to: number,
  ): void | Promise<void> {
    writeTimeSeries(this.w, s.encoded, ts, vals, from, to);
    this.seriesCount++;
    this.samples += to - from;
    if (this.w.pos < this.pieceBytes) return;
    this.flush();
    if (this.inFlight < MAX_IN_FLIGHT) return;
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private flush(): void {
    const w = this.w;
    if (w.pos === 0) return;
    const raw = w.bytes();
    this.bytes += raw.length;
    this.inFlight++;
    const piece = this.compressor.compress(raw).then(({ block, raw: back }) => {
      if (back.buffer !== w.buf.buffer && back.length >= this.pieceBytes && this.spare.length < MAX_IN_FLIGHT)
        this.spare.push(back);
      return snappyElements(block);
    });
    const settled = () => {
      this.inFlight--;
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    piece.then(settled, settled);
    // A failure is reported by finish(); if the read stops before that, it must not go unhandled.
    piece.catch(() => {});
    this.pieces.push(piece);
    // The buffer moved to a worker (detached here): carry on in a spare one.
    if (w.buf.buffer.byteLength === 0)
      w.buf = this.spare.pop() ?? Buffer.allocUnsafe(this.pieceBytes + 64 * 1024);
    w.pos = 0;
  }

  /**
   * The snappy element streams of `ReadResponse.results` holding this QueryResult (field header
   * first), and how many uncompressed bytes they stand for.
   */
  async finish(): Promise<{ elements: Buffer[]; bytes: number }> {
    this.flush();
    const elements = await Promise.all(this.pieces);
    const head = new PbWriter(16);
    head.tag(1, 2);
    head.uvarint(this.bytes);
    const header = Buffer.from(head.bytes());
    return {
      elements: [snappyElements(compressBlock(header)), ...elements],
      bytes: header.length + this.bytes,
    };
  }
}

/** Pieces of a SAMPLES answer being compressed at once. */
const MAX_IN_FLIGHT = 3;

/** One snappy block from element streams standing for `bytes` uncompressed bytes in all, as pieces. */
export function snappyBlock(elements: readonly Buffer[], bytes: number): Buffer[] {
  const head = new PbWriter(16);
  head.uvarint(bytes);
  return [Buffer.from(head.bytes()), ...elements];
}

/** Feeds a streamed answer: each series becomes XOR chunks in frames; finished frames wait in `out`. */
export class ChunkedSink implements SeriesSink {
  readonly out: Buffer[] = [];
  outBytes = 0;
  seriesCount = 0;
  samples = 0;
  private readonly writer: ChunkedSeriesWriter;

  constructor(
    private readonly queryIndex: number,
    maxFrameBytes: number,
  ) {
    this.writer = new ChunkedSeriesWriter((frame) => {
      this.out.push(frame);
      this.outBytes += frame.length;
    }, maxFrameBytes);
  }

  series(s: SelectedSeries, ts: Float64Array, vals: Uint32Array, from: number, to: number): void {
    this.writer.begin(s.encoded, this.queryIndex);
    for (let i = from; i < to; i++) this.writer.append(ts[i]!, vals[2 * i]!, vals[2 * i + 1]!);
    this.writer.end();
    this.seriesCount++;
    this.samples += to - from;
  }

  /** Takes the frames written so far as one buffer. */
  take(): Buffer | undefined {
    if (this.out.length === 0) return undefined;
    const b = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out.length = 0;
    this.outBytes = 0;
    return b;
  }
}
