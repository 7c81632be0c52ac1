import { ChunkedSeriesWriter } from './chunks.ts';
import { PbWriter, writeTimeSeries } from './read-proto.ts';
import type { SeriesSink } from './read-samples.ts';
import type { SelectedSeries } from './read-series.ts';

/**
 * Builds one `QueryResult` of a SAMPLES answer, series by series, into one buffer (the answer is one
 * protobuf message, so it is whole in memory; the samples limit bounds it).
 */
export class SamplesResultSink implements SeriesSink {
  readonly w: PbWriter;
  seriesCount = 0;
  samples = 0;

  /** `expectedBytes`: a size hint, so the buffer rarely grows. */
  constructor(expectedBytes = 256 * 1024) {
    this.w = new PbWriter(expectedBytes, 16);
  }

  series(s: SelectedSeries, ts: Float64Array, vals: Uint32Array, from: number, to: number): void {
    writeTimeSeries(this.w, s.encoded, ts, vals, from, to);
    this.seriesCount++;
    this.samples += to - from;
  }

  /** The `results` field of ReadResponse holding this QueryResult. */
  result(): Buffer {
    return this.w.bytes(this.w.prefix(16, 1));
  }
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
