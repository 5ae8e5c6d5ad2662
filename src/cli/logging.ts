/**
 * Logging as pilot-agent 1.22 and later do it (Istio's pkg/log on zap), for the flags the
 * injector passes: plain lines `2023-12-19T13:10:05.770489Z\tinfo\t<message>` (UTC,
 * microseconds; a scope other than `default` adds a column before the message), or with
 * `--log_as_json` one JSON object per line, keys `level`, `time`, `scope` (not for `default`),
 * `msg`. `--log_output_level` sets each scope's lowest level (`default:info`, `iptables:debug`,
 * `all:none`, a bare level for `default`); `--log_target` names where lines go: `stdout`,
 * `stderr` or files (appended to), several allowed; stderr by default, so a dry run's stdout
 * stays the payload. One logger per run, made by main() and handed to what logs.
 */
import { openSync, writeSync } from 'node:fs';
import { ConfigError, type Issue } from '../errors.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
/** A scope's lowest level: `fatal` and `none` silence everything this tool logs. */
type Threshold = Level | 'fatal' | 'none';

const SEVERITY: Readonly<Record<Threshold, number>> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4, none: 5 };

/** The scope nearly everything logs on; its name is not printed. */
export const DEFAULT_SCOPE = 'default';

export interface Logger {
  debug(message: string, scope?: string): void;
  info(message: string, scope?: string): void;
  warn(message: string, scope?: string): void;
  error(message: string, scope?: string): void;
  /** Whether a message at this level and scope would be written: skip building costly ones. */
  enabled(level: Level, scope?: string): boolean;
}

export interface LogSettings {
  readonly json: boolean;
  /** Lowest level per scope; `all` applies to every scope not named. Unnamed scopes log at info. */
  readonly levels: ReadonlyMap<string, Threshold>;
  readonly targets: readonly string[];
}

export const DEFAULT_LOG_SETTINGS: LogSettings = { json: false, levels: new Map(), targets: ['stderr'] };

/** A logging flag as it was given (`--log_as_json` alone has the value `true`). */
export interface LogFlag {
  readonly name: string;
  readonly value: string;
}

const SCOPE = /^[a-zA-Z0-9_.-]+$/;

/** pilot-agent's logging flags → settings, with an issue per bad value. */
export function parseLogFlags(flags: readonly LogFlag[]): { settings: LogSettings; issues: Issue[] } {
  const issues: Issue[] = [];
  const levels = new Map<string, Threshold>();
  const targets: string[] = [];
  let json = false;
  for (const { name, value } of flags) {
    if (name === '--log_as_json') json = value === 'true' || value === '1' || value === 't' || value === 'T';
    else if (name === '--log_output_level') {
      for (const item of value.split(',').filter((part) => part !== '')) {
        const pieces = item.split(':');
        const [scope, level] = pieces.length === 1 ? [DEFAULT_SCOPE, pieces[0] ?? ''] : pieces;
        if (pieces.length > 2 || !scope || !SCOPE.test(scope) || !level || !(level in SEVERITY))
          issues.push({
            source: name,
            value,
            message: `invalid output level ${JSON.stringify(item)}: expected SCOPE:LEVEL, LEVEL one of debug, info, warn, error, fatal, none`,
          });
        else levels.set(scope, level as Threshold);
      }
    } else if (name === '--log_target') {
      const paths = value.split(',').filter((part) => part !== '');
      if (paths.length === 0) issues.push({ source: name, value, message: 'expected stdout, stderr or a file path' });
      targets.push(...paths);
    }
  }
  return { settings: { json, levels, targets: targets.length > 0 ? targets : ['stderr'] }, issues };
}

/** Where lines can go. */
export interface LogSinks {
  stdout(text: string): void;
  stderr(text: string): void;
}

let epochOffset: bigint | undefined;

/**
 * Microseconds since the epoch: the wall clock's milliseconds, refined by the monotonic
 * nanosecond clock. Not `performance.now()`: the global loads perf_hooks (ten modules) at first use.
 */
export function microsecondClock(): number {
  const now = process.hrtime.bigint() / 1000n;
  epochOffset ??= BigInt(Date.now()) * 1000n - now;
  return Number(epochOffset + now);
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/**
 * `2023-12-19T13:10:05.770489Z`, as zap's ISO8601 encoder with microseconds writes it (years
 * 0–9999). Worked out without Date, whose first use reads the local time zone (/etc/localtime,
 * a tenth of what a dry run adds to node's start) that a UTC stamp does not need: the civil
 * date of a day count is Howard Hinnant's `civil_from_days`.
 */
export function formatTime(microseconds: number): string {
  const whole = Math.floor(microseconds);
  const seconds = Math.floor(whole / 1e6);
  const days = Math.floor(seconds / 86_400);
  const second = seconds - days * 86_400;
  const shifted = days + 719_468; // days since 0000-03-01
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const time = `${pad(Math.floor(second / 3600))}:${pad(Math.floor(second / 60) % 60)}:${pad(second % 60)}`;
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${time}.${pad(whole - seconds * 1e6, 6)}Z`;
}

/** Opens each file target for appending (as zap does); @throws the first file that cannot be. */
function openTargets(targets: readonly string[], sinks: LogSinks): ((text: string) => void)[] {
  return [...new Set(targets)].map((target) => {
    if (target === 'stdout') return (text: string) => sinks.stdout(text);
    if (target === 'stderr') return (text: string) => sinks.stderr(text);
    const fd = openSync(target, 'a');
    return (text: string) => {
      writeSync(fd, text);
    };
  });
}

/**
 * The run's logger.
 * @throws the file system's error when a file target cannot be opened.
 */
export function createLogger(settings: LogSettings, sinks: LogSinks, clock: () => number): Logger {
  const writers = openTargets(settings.targets, sinks);
  const threshold = (scope: string) => settings.levels.get(scope) ?? settings.levels.get('all') ?? 'info';
  const enabled = (level: Level, scope = DEFAULT_SCOPE) => SEVERITY[level] >= SEVERITY[threshold(scope)];
  const write = (level: Level, message: string, scope = DEFAULT_SCOPE) => {
    if (!enabled(level, scope)) return;
    const time = formatTime(clock());
    const named = scope !== DEFAULT_SCOPE;
    const line = settings.json
      ? JSON.stringify({ level, time, ...(named ? { scope } : {}), msg: message })
      : `${time}\t${level}\t${named ? `${scope}\t` : ''}${message}`;
    for (const writer of writers) writer(`${line}\n`);
  };
  return {
    debug: (message, scope) => write('debug', message, scope),
    info: (message, scope) => write('info', message, scope),
    warn: (message, scope) => write('warn', message, scope),
    error: (message, scope) => write('error', message, scope),
    enabled,
  };
}

/**
 * The run's logger from pilot-agent's logging flags.
 * @throws ConfigError for a bad level or a log file that cannot be opened (the caller reports
 * it through the default logger: stderr, plain, info).
 */
export function runLogger(flags: readonly LogFlag[], sinks: LogSinks, clock: () => number): Logger {
  const { settings, issues } = parseLogFlags(flags);
  if (issues.length > 0) throw new ConfigError(issues);
  try {
    return createLogger(settings, sinks, clock);
  } catch (error) {
    const value = settings.targets.join(',');
    throw new ConfigError([{ source: '--log_target', value, message: `cannot open: ${(error as Error).message}` }]);
  }
}

/**
 * A line-based log (the apply layers report progress as lines, their warnings starting
 * `warning: `) written through a logger at the level each line says.
 */
export function lineLogger(logger: Logger): (line: string) => void {
  return (line) => {
    if (line.startsWith('warning: ')) logger.warn(line.slice('warning: '.length));
    else if (line.startsWith('info: ')) logger.info(line.slice('info: '.length));
    else logger.info(line);
  };
}
