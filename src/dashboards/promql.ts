/**
 * PromQL fragments shared by the RTC dashboards. Region, zone and host live only on `rtc_server_info`
 * (never on every series), so the region filter and per-region sums join through it on `server`.
 */

/** Grafana's rate window: at least four scrape intervals, so a rate always has two samples. */
export const RI = '$__rate_interval';

/** `rate(metric{matcher, …extra}[$__rate_interval])`, e.g. with matcher `instance=~"$instance"`. */
export function rateWhere(matcher: string, metric: string, extra = ''): string {
  return `rate(${metric}{${matcher}${extra ? `, ${extra}` : ''}}[${RI}])`;
}

/** A quantile of a histogram over the series `matcher` selects, kept per `by` labels (besides le). */
export function quantileWhere(matcher: string, q: number, histogram: string, by = '', extra = ''): string {
  return `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (${rateWhere(matcher, `${histogram}_bucket`, extra)}))`;
}

/**
 * `rateWhere` and `quantileWhere` bound to one matcher, for a dashboard whose series all carry it
 * (e.g. `instance=~"$adapter"`).
 */
export function matching(matcher: string) {
  return {
    rate: (metric: string, extra = '') => rateWhere(matcher, metric, extra),
    quantile: (q: number, histogram: string, opts: { by?: string; extra?: string } = {}) =>
      quantileWhere(matcher, q, histogram, opts.by, opts.extra),
  };
}

/** The servers the `$region` and `$server` variables select. */
export const INFO = 'rtc_server_info{region=~"$region", server=~"$server"}';

/** `metric{server=~"$server", …extra}`. */
export function sel(metric: string, extra = ''): string {
  return `${metric}{server=~"$server"${extra ? `, ${extra}` : ''}}`;
}

/** Keeps only the series of servers in `$region`/`$server` (labels unchanged). */
export function scoped(expr: string): string {
  return `(${expr} and on(server) ${INFO})`;
}

/** Adds the `region` label from rtc_server_info (and filters by `$region`/`$server`). */
export function withRegion(expr: string): string {
  return `(${expr} * on(server) group_left(region) ${INFO})`;
}

/** `rate(metric{server=~"$server",extra}[$__rate_interval])`. */
export function rate(metric: string, extra = ''): string {
  return `rate(${sel(metric, extra)}[${RI}])`;
}

/** A quantile of an rtc histogram over the selected servers, optionally kept per `by` labels. */
export function quantile(q: number, histogram: string, opts: { by?: string; extra?: string } = {}): string {
  const inner = opts.by?.includes('region')
    ? withRegion(rate(`${histogram}_bucket`, opts.extra))
    : scoped(rate(`${histogram}_bucket`, opts.extra));
  const by = ['le', ...(opts.by ? [opts.by] : [])].join(', ');
  return `histogram_quantile(${q}, sum by (${by}) (${inner}))`;
}

/** Per-`le` rates of an rtc histogram, for a heatmap. */
export function buckets(histogram: string, extra = ''): string {
  return `sum by (le) (${scoped(rate(`${histogram}_bucket`, extra))})`;
}

/**
 * Failed joins per second over the selected servers. A server's `rtc_join_failures_total{reason}`
 * series appears at its first failure, so no series means no failure: 0 is then the true answer.
 */
export const JOIN_FAILURE_RATE = `(sum(${scoped(rate('rtc_join_failures_total'))}) or on() vector(0))`;

/**
 * Failed joins per second by reason. A reason's series exists only after its first failure; where the
 * servers report join attempts but no failure yet, the answer is one series `reason="none"` at 0 (true:
 * nothing failed), never a made-up value for servers that report nothing.
 */
export const JOIN_FAILURES_BY_REASON = `sum by (reason) (${scoped(rate('rtc_join_failures_total'))}) or on() label_replace(0 * sum(${scoped(rate('rtc_join_attempts_total'))}), "reason", "none", "", "")`;

/** Share of join attempts that succeeded. */
export const JOIN_SUCCESS = `1 - ${JOIN_FAILURE_RATE} / sum(${scoped(rate('rtc_join_attempts_total'))})`;

/** node_exporter series of the hosts the selected RTC servers run on (joined by the `host` label). */
export function onHosts(expr: string): string {
  return `(${expr} and on(host) ${INFO})`;
}
