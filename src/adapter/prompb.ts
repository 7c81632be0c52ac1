/**
 * Numbers of the enums of Prometheus' remote storage messages (prompb types.proto + remote.proto). The
 * adapter reads and writes the wire format by hand; the protobufjs schema the tests check it against is
 * test/support/prompb.ts.
 */
export const MatcherType = { EQ: 0, NEQ: 1, RE: 2, NRE: 3 } as const;
export const ResponseType = { SAMPLES: 0, STREAMED_XOR_CHUNKS: 1 } as const;
/** Metric type names by `MetricMetadata.MetricType` number, as stored in `metadata.type`. */
export const MetricTypeNames: readonly string[] = [
  'unknown',
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'info',
  'stateset',
];
