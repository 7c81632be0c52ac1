import protobuf from 'protobufjs';
import snappy from 'snappy';

/**
 * Prometheus remote storage messages (prompb: types.proto + remote.proto, remote write 1.0 and
 * remote read 0.1.0), loaded with protobufjs from this schema text; no generated code. The tests' and
 * benchmarks' oracle: the adapter itself reads and writes the wire format by hand (src/adapter/pb-reader.ts,
 * decode.ts, read-request.ts, read-proto.ts) and is checked against this.
 */
const SCHEMA = `
syntax = "proto3";
package prometheus;

message MetricMetadata {
  enum MetricType {
    UNKNOWN = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}
message Sample { double value = 1; int64 timestamp = 2; }
message Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
message Label { string name = 1; string value = 2; }
message Labels { repeated Label labels = 1; }
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
  repeated Exemplar exemplars = 3;
}
message LabelMatcher {
  enum Type { EQ = 0; NEQ = 1; RE = 2; NRE = 3; }
  Type type = 1;
  string name = 2;
  string value = 3;
}
message ReadHints {
  int64 step_ms = 1;
  string func = 2;
  int64 start_ms = 3;
  int64 end_ms = 4;
  repeated string grouping = 5;
  bool by = 6;
  int64 range_ms = 7;
}
message Chunk {
  int64 min_time_ms = 1;
  int64 max_time_ms = 2;
  enum Encoding { UNKNOWN = 0; XOR = 1; HISTOGRAM = 2; FLOAT_HISTOGRAM = 3; }
  Encoding type = 3;
  bytes data = 4;
}
message ChunkedSeries {
  repeated Label labels = 1;
  repeated Chunk chunks = 2;
}
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  repeated MetricMetadata metadata = 3;
}
message ReadRequest {
  repeated Query queries = 1;
  enum ResponseType { SAMPLES = 0; STREAMED_XOR_CHUNKS = 1; }
  repeated ResponseType accepted_response_types = 2;
}
message ReadResponse { repeated QueryResult results = 1; }
message Query {
  int64 start_timestamp_ms = 1;
  int64 end_timestamp_ms = 2;
  repeated LabelMatcher matchers = 3;
  ReadHints hints = 4;
}
message QueryResult { repeated TimeSeries timeseries = 1; }
message ChunkedReadResponse {
  repeated ChunkedSeries chunked_series = 1;
  int64 query_index = 2;
}
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const type = (name: string) => root.lookupType(`prometheus.${name}`);

export const WriteRequest = type('WriteRequest');
export const ReadRequest = type('ReadRequest');
export const ReadResponse = type('ReadResponse');
export const ChunkedReadResponse = type('ChunkedReadResponse');
export const TimeSeries = type('TimeSeries');

/** Plain-object shapes (protobufjs `toObject` with `longs: Number`). */
export interface PLabel {
  name: string;
  value: string;
}
export interface PSample {
  value: number;
  timestamp: number;
}
export interface PTimeSeries {
  labels: PLabel[];
  samples: PSample[];
}
export interface PMetadata {
  type: number;
  metric_family_name: string;
  help: string;
  unit: string;
}
export interface PWriteRequest {
  timeseries: PTimeSeries[];
  metadata: PMetadata[];
}
export { MatcherType, MetricTypeNames, ResponseType } from '../../src/adapter/prompb.ts';
export const TO_OBJECT = { longs: Number, enums: Number, defaults: true, arrays: true } as const;

/** A remote-write body as Prometheus sends it: a snappy-compressed WriteRequest. */
export function writeBody(timeseries: PTimeSeries[]): Buffer {
  return snappy.compressSync(
    Buffer.from(WriteRequest.encode(WriteRequest.fromObject({ timeseries })).finish()),
  );
}
