/** Go's `time.ParseDuration` syntax, which upstream's `--probe-timeout` uses. */

const UNIT_NANOSECONDS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu: Go accepts both
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const MAX_NANOSECONDS = 2 ** 63 - 1;

const PART = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/y;

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
  // Go's time.Duration is an int64 of nanoseconds: larger values are "invalid duration" there.
  return total <= MAX_NANOSECONDS ? total : undefined;
}
