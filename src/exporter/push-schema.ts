/**
 * The push body as a JSON Schema (draft 2020-12), generated from the catalogue and served at
 * GET /api/v1/push/schema, for clients in other languages. The endpoint's own checks (push.ts) are
 * stricter: counters may not go backwards, at most 16 reasons, series and server limits.
 */
import { FAMILIES, FAMILY_NAMES, type Family, SERVER_STATES } from '../sdk/index.ts';

const nonNeg = { type: 'number', minimum: 0 };

function labelsSchema(f: Family): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const l of f.labelNames) {
    const values = f.labelValues?.[l];
    properties[l] = values ? { enum: values } : { type: 'string', pattern: '^[a-z0-9_]{1,48}$' };
  }
  return { type: 'object', properties, required: [...f.labelNames], additionalProperties: false };
}

function familySchema(f: Family): Record<string, unknown> {
  if (f.type === 'histogram') {
    const bucketKeys = [...(f.buckets ?? []).map(String), '+Inf'];
    const one = {
      type: 'object',
      properties: {
        ...(f.labelNames.length ? { labels: labelsSchema(f) } : {}),
        buckets: {
          type: 'object',
          description: 'cumulative counts: observations <= le',
          properties: Object.fromEntries(bucketKeys.map((k) => [k, nonNeg])),
          required: bucketKeys,
          additionalProperties: false,
        },
        sum: nonNeg,
        count: nonNeg,
      },
      required: ['buckets', 'sum', ...(f.labelNames.length ? ['labels'] : [])],
      additionalProperties: false,
    };
    return { description: `${f.type}: ${f.help}`, oneOf: [one, { type: 'array', items: one }] };
  }
  const sample = {
    type: 'object',
    properties: { ...(f.labelNames.length ? { labels: labelsSchema(f) } : {}), value: nonNeg },
    required: ['value', ...(f.labelNames.length ? ['labels'] : [])],
    additionalProperties: false,
  };
  const forms = f.labelNames.length
    ? [sample, { type: 'array', items: sample }]
    : [nonNeg, sample, { type: 'array', items: sample, maxItems: 1 }];
  return { description: `${f.type}: ${f.help}`, oneOf: forms };
}

export function pushSchema(): Record<string, unknown> {
  const server = {
    type: 'object',
    properties: {
      server: { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,128}$' },
      info: {
        type: 'object',
        properties: Object.fromEntries(
          ['version', 'eip', 'port', 'region', 'zone', 'host'].map((k) => [
            k,
            { type: ['string', 'number'], maxLength: 256 },
          ]),
        ),
        additionalProperties: false,
      },
      state: { enum: SERVER_STATES },
      started_at: {
        ...nonNeg,
        description: 'Unix seconds of the server process start; a new value allows counters to reset',
      },
      metrics: {
        type: 'object',
        properties: Object.fromEntries(FAMILY_NAMES.map((n) => [n, familySchema(FAMILIES[n])])),
        additionalProperties: false,
      },
    },
    required: ['server'],
    additionalProperties: false,
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'rtcmon exporter push body',
    oneOf: [server, { type: 'array', items: server, minItems: 1, maxItems: 100 }],
  };
}
