/**
 * The `--config` validator is generated ahead of time (scripts/generate-validator.mjs). It must
 * match CONFIG_SCHEMA as it is now, and judge records as ajv compiling the schema at run time does.
 */
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validatorSource, VALIDATOR_PATH } from '../../scripts/generate-validator.mjs';
import { validate } from './generated/validate-config.js';
import { CONFIG_SCHEMA } from './schema.js';

describe('generated --config validator', () => {
  it('is up to date with CONFIG_SCHEMA (regenerate: npm run generate:validator)', () => {
    expect(readFileSync(VALIDATOR_PATH, 'utf8')).toBe(validatorSource(CONFIG_SCHEMA));
  });

  const compiled = new Ajv({ allErrors: true, strict: true }).compile(CONFIG_SCHEMA);
  it.each([
    {},
    { PROXY_PORT: '15001', DRY_RUN: true, DNS_SERVERS_V4: null, DNS_SERVERS_V6: ['::1'], PROBE_TIMEOUT: 5_000_000_000 },
    { PROXY_PORT: 15001, DRY_RUN: 'yes', UNKNOWN: 1, IPTABLES_PROBE_PORT: 70000, PROBE_TIMEOUT: -1.5 },
    { DNS_SERVERS_V4: [1, 'a'], DNS_SERVERS_V6: 'x', EXTRA_ONE: null, EXTRA_TWO: {} },
    [],
    'text',
    null,
  ])('judges %j as ajv does', (record) => {
    expect(validate(record)).toBe(compiled(record));
    expect(validate.errors ?? null).toEqual(compiled.errors ?? null);
  });
});
