/**
 * Raw settings: every flag's value with where it came from, before any meaning is given to
 * it. Precedence, highest first: command line, `--config` file, environment (an upstream
 * "additional" variable over the primary one), default. A value that is still `undefined`
 * afterwards is derived from the machine (`derive.ts`).
 */
import { FLAG_SPECS, type FlagSpec } from './flag-spec.js';
import type { Issue } from '../errors.js';

export type SettingName = (typeof FLAG_SPECS)[number]['long'];
export type SettingValue = string | boolean | readonly string[];

/** Where a value came from, so that an error can name it. */
export type Origin =
  | { readonly kind: 'flag'; readonly name: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'config'; readonly name: string }
  | { readonly kind: 'derived'; readonly name: string }
  | { readonly kind: 'default'; readonly name: string };

export interface RawSetting {
  readonly value: SettingValue | undefined;
  readonly origin: Origin;
}

export type RawSettings = Readonly<Record<SettingName, RawSetting>>;

/** How an error message names the source of a value. */
export function describeOrigin(origin: Origin): string {
  switch (origin.kind) {
    case 'flag':
    case 'default':
      return origin.name;
    case 'env':
      return `environment variable ${origin.name}`;
    case 'config':
      return `config key ${origin.name}`;
    case 'derived':
      return `${origin.name} (derived)`;
    default: {
      const never: never = origin;
      return never;
    }
  }
}

/** Boolean spellings Go's strconv.ParseBool accepts; upstream reads its env vars with it. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False', '']);

/** Strict boolean parsing: upstream silently turns `yes` into false; we refuse it. */
export function parseBoolean(text: string): boolean | undefined {
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return undefined;
}

export interface SettingsInput {
  /** Values given on the command line, by long flag name. */
  readonly flags: Readonly<Partial<Record<string, string | boolean>>>;
  /** The `--config` record, already checked against the schema. */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

function fromConfig(spec: FlagSpec, value: unknown): SettingValue {
  if (value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  // PROBE_TIMEOUT (and our LOCK_TIMEOUT) is a Go time.Duration: an integer number of nanoseconds in JSON.
  if ((spec.long === 'probe-timeout' || spec.long === 'lock-timeout') && typeof value === 'number') return `${value}ns`;
  if (typeof value === 'number') return String(value);
  return value as string | boolean;
}

function resolveOne(spec: FlagSpec, input: SettingsInput, issues: Issue[]): RawSetting {
  const flagName = `--${spec.long}`;
  const given = input.flags[spec.long];
  if (given !== undefined) return { value: given, origin: { kind: 'flag', name: flagName } };
  if (spec.configKey && input.config && spec.configKey in input.config) {
    return { value: fromConfig(spec, input.config[spec.configKey]), origin: { kind: 'config', name: spec.configKey } };
  }
  for (const name of [...spec.env].reverse()) {
    const text = input.env[name];
    if (text === undefined) continue;
    const origin = { kind: 'env', name } as const;
    if (spec.kind === 'string') return { value: text, origin };
    const value = parseBoolean(text);
    if (value === undefined) {
      issues.push({
        source: describeOrigin(origin),
        value: text,
        message: 'expected a boolean: true or false (also 1/0, t/f)',
      });
      return { value: false, origin };
    }
    return { value, origin };
  }
  return { value: spec.default, origin: { kind: 'default', name: flagName } };
}

/** Resolves every setting; boolean env vars with unknown spellings become issues. */
export function resolveSettings(input: SettingsInput): { settings: RawSettings; issues: Issue[] } {
  const issues: Issue[] = [];
  const settings = Object.fromEntries(FLAG_SPECS.map((spec) => [spec.long, resolveOne(spec, input, issues)])) as Record<
    SettingName,
    RawSetting
  >;
  return { settings, issues };
}
