/**
 * Go's `strconv.ParseUint(s, 0, bits)`, which pflag uses for upstream's one integer flag
 * (`--iptables-probe-port`, a uint16): base prefixes `0x`, `0o`, `0b`, a leading `0` for
 * octal, and `_` between digits.
 */

/** Go's rule: an underscore must sit between digits (a base prefix counts as a digit). */
function underscoresOk(text: string): boolean {
  let saw: 'start' | 'digit' | 'underscore' | 'other' = 'start';
  let i = 0;
  const prefix = text[1]?.toLowerCase();
  const hex = prefix === 'x';
  if (text.length >= 2 && text[0] === '0' && (prefix === 'b' || prefix === 'o' || hex)) {
    i = 2;
    saw = 'digit';
  }
  for (; i < text.length; i++) {
    const c = text[i] ?? '';
    if (/[0-9]/.test(c) || (hex && /[a-fA-F]/.test(c))) saw = 'digit';
    else if (c === '_') {
      if (saw !== 'digit') return false;
      saw = 'underscore';
    } else {
      if (saw === 'underscore') return false;
      saw = 'other';
    }
  }
  return saw !== 'underscore';
}

/** The value, or undefined when Go would report a syntax or range error. */
export function parseGoUint(text: string, max: number): number | undefined {
  if (text === '' || !underscoresOk(text)) return undefined;
  let base = 10;
  let digits = text;
  if (text.startsWith('0')) {
    const prefix = text[1]?.toLowerCase();
    const bases: Record<string, number> = { b: 2, o: 8, x: 16 };
    const prefixed = text.length >= 3 && prefix !== undefined ? bases[prefix] : undefined;
    base = prefixed ?? 8;
    digits = text.slice(prefixed === undefined ? 1 : 2);
  }
  let value = 0;
  for (const c of digits) {
    if (c === '_') continue;
    const digit = Number.parseInt(c, 36);
    if (Number.isNaN(digit) || digit >= base) return undefined;
    value = value * base + digit;
    if (value > max) return undefined;
  }
  return value;
}
