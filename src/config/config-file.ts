/**
 * Reads and shape-checks a `--config` record, with the validator ajv compiled ahead of time from
 * CONFIG_SCHEMA (generated/validate-config.js, `npm run generate:validator`). It is loaded only
 * when a file is given.
 */
import type { Issue } from '../errors.js';

/** Parses the JSON text and checks it against the schema, reporting every problem. */
export async function parseConfigRecord(
  text: string,
  source: string,
): Promise<{ record?: Record<string, unknown>; issues: Issue[] }> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return {
      issues: [
        {
          source: `--config ${source}`,
          value: text.slice(0, 40),
          message: `not valid JSON: ${(error as Error).message}`,
        },
      ],
    };
  }
  const { validate } = await import('./generated/validate-config.js');
  if (validate(data)) return { record: data as Record<string, unknown>, issues: [] };
  const issues = (validate.errors ?? []).map((error): Issue => {
    const key = error.instancePath.split('/')[1] ?? '';
    if (error.keyword === 'additionalProperties') {
      const extra = String((error.params as { additionalProperty?: string }).additionalProperty);
      const value =
        data && typeof data === 'object' ? (JSON.stringify((data as Record<string, unknown>)[extra]) ?? '') : '';
      return { source: `config key ${extra}`, value, message: `unknown key in ${source}` };
    }
    const value =
      key && data && typeof data === 'object'
        ? (JSON.stringify((data as Record<string, unknown>)[key]) ?? '')
        : JSON.stringify(data);
    return { source: key ? `config key ${key}` : `--config ${source}`, value, message: error.message ?? 'invalid' };
  });
  return { issues };
}
