/** Go's `time.ParseDuration` syntax, which upstream's `--probe-timeout` uses. */

const UNIT_NANOSECONDS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const PART = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)/y;

/** Nanoseconds, or undefined when the text is not a non-negative Go duration. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    const [, number, unit] = match ?? [];
    if (!number || number === '.' || !unit) return undefined;
    total += Number(number) * (UNIT_NANOSECONDS[unit] ?? NaN);
  }
  return Number.isFinite(total) ? total : undefined;
}
