import type { HistogramFamilyName, ScalarFamilyName, ServerState } from './catalogue.ts';

/** `rtc_server_info` labels (contract 2). Missing ones are exposed as "". */
export interface ServerInfo {
  readonly version: string;
  /** Public address clients connect to. */
  readonly eip: string;
  readonly port: string;
  readonly region: string;
  readonly zone: string;
  /** Machine name, to join node_exporter series (their `instance` host part or `host` target label). */
  readonly host: string;
}

/** One gauge or counter series; `labels` holds the family's labels besides `server`. */
export interface ScalarSample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One histogram series with the catalogue's buckets. */
export interface HistogramSample {
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Observations per bucket, NOT cumulative: `counts[i]` for `bounds[i-1] < v <= bounds[i]`, and one
   * more entry at the end for values above the largest bound. Length = buckets.length + 1.
   */
  readonly counts: ArrayLike<number>;
  readonly sum: number;
}

/**
 * The state of one RTC server at scrape time: what every source hands the exporter. Plain data, built
 * fresh on each `collect()` (or shared read-only: the exporter never mutates it).
 */
export interface ServerSnapshot {
  /** Stable id: becomes the `server` label on every series. */
  readonly server: string;
  /** `rtc_up`. When false only `rtc_up` (and `rtc_server_info`) are exposed for this server. */
  readonly up: boolean;
  readonly info?: Partial<ServerInfo>;
  /** `rtc_server_state` (one-hot); omitted = not exposed. */
  readonly state?: ServerState;
  /** `rtc_stats_updated_timestamp_seconds`: Unix seconds when the stats last changed. */
  readonly updatedSeconds?: number;
  readonly scalars?: { readonly [F in ScalarFamilyName]?: readonly ScalarSample[] };
  readonly histograms?: { readonly [F in HistogramFamilyName]?: readonly HistogramSample[] };
}
