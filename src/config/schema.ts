/**
 * JSON Schema of Istio's effective-configuration record (the `config.json` of the reference
 * cases, as Go's `json.Marshal` of upstream's Config writes it), generated from the flag
 * table. It checks the shape only; values are checked by `toCaptureConfig`.
 */
import { FLAG_SPECS } from './flag-spec.js';

/** Record fields that are not strings or booleans in Go's Config. */
const FIELD_TYPES: Readonly<Record<string, object>> = {
  IPTABLES_PROBE_PORT: { type: 'integer', minimum: 0, maximum: 65535 },
  PROBE_TIMEOUT: { type: 'integer', minimum: 0, description: 'nanoseconds (Go time.Duration)' },
  LOCK_TIMEOUT: { type: 'integer', minimum: 0, description: 'nanoseconds (Go time.Duration)' },
  DNS_SERVERS_V4: { type: ['array', 'null'], items: { type: 'string' } },
  DNS_SERVERS_V6: { type: ['array', 'null'], items: { type: 'string' } },
};

export const CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://istio-iptables-ts/config.schema.json',
  title: 'istio-iptables effective configuration',
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(
    FLAG_SPECS.flatMap((spec) =>
      'configKey' in spec && spec.configKey
        ? [[spec.configKey, FIELD_TYPES[spec.configKey] ?? { type: spec.kind }]]
        : [],
    ),
  ),
} as const;
