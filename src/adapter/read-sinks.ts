import { ChunkedSeriesWriter } from './chunks.ts';
import { PbWriter, writeTimeSeries } from './read-proto.ts';
import type { SampleSink } from './read-samples.ts';
import type { SelectedSeries } from './read-series.ts';

/**
 * Builds one `QueryResult` of a SAMPLES answer: series by series into a growing buffer (the answer is
 * one protobuf message, so it is whole in memory; the samples limit bounds it). `onSample` runs for
 * every sample kept, so the caller can stop a query past its limit before memory grows further.
 */
export class SamplesResultSink implements SampleSink {
  readonly w = new PbWriter(256 * 1024, 16);
  series = 0;
  samples = 0;
  private current: SelectedSeries | undefined;
  private ts = new Float64Array(1024);
  private values = new Uint8Array(8 * 1024);
  private n = 0;

  constructor(private readonly onSample: (total: number) => void) {}

  begin(series: SelectedSeries): void {
    this.current = series;
    this.n = 0;
  }

  sample(t: number, buf: Buffer, off: number): void {
    this.onSample(++this.samples);
    const n = this.n;
    if (n === this.ts.length) {
      const ts = new Float64Array(n * 2);
      ts.set(this.ts);
      this.ts = ts;
      const values = new Uint8Array(n * 16);
      values.set(this.values);
      this.values = values;
    }
    this.ts[n] = t;
    const v = this.values;
    const o = n * 8;
    v[o] = buf[off]!;
    v[o + 1] = buf[off + 1]!;
    v[o + 2] = buf[off + 2]!;
    v[o + 3] = buf[off + 3]!;
    v[o + 4] = buf[off + 4]!;
    v[o + 5] = buf[off + 5]!;
    v[o + 6] = buf[off + 6]!;
    v[o + 7] = buf[off + 7]!;
    this.n = n + 1;
  }

  end(): void {
    if (!this.current || this.n === 0) return;
    writeTimeSeries(this.w, this.current.encoded, this.ts, this.values, this.n);
    this.series++;
    this.current = undefined;
  }

  /** The `results` field of ReadResponse holding this QueryResult. */
  result(): Buffer {
    return this.w.bytes(this.w.prefix(16, 1));
  }
}

/** Feeds a streamed answer: each series becomes XOR chunks in frames; finished frames wait in `out`. */
export class ChunkedSink implements SampleSink {
  readonly out: Buffer[] = [];
  outBytes = 0;
  series = 0;
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

  begin(series: SelectedSeries): void {
    this.writer.begin(series.encoded, this.queryIndex);
    this.series++;
  }

  sample(t: number, buf: Buffer, off: number): void {
    this.samples++;
    this.writer.append(t, buf.readUInt32LE(off), buf.readUInt32LE(off + 4));
  }

  end(): void {
    this.writer.end();
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
