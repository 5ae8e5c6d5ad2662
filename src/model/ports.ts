/**
 * Port values as upstream takes them. Upstream never parses a port: list items (`-b -d -o -q`)
 * and the tunnel port go into the rules verbatim, and iptables reads them when the payload is
 * restored. So every spelling iptables turns into the rule the user meant is accepted here and
 * printed as written (`51980:51980`, `:1000`, ` 81`); the spellings where iptables fails the
 * restore or reads something else than the text seems to say are refused, with the reason
 * (README, "Where upstream is lax").
 */
import { parseDecimal, type PortRange } from './network.js';

const MAX_PORT = 65535;

/** Digits around at most one colon, padded with spaces only (iptables-restore splits on them). */
const ITEM = /^( *)([0-9]*)(:?)([0-9]*)( *)$/;
const SERVICE_NAME = /^ *[A-Za-z][A-Za-z0-9_-]* *$/;

/** One end of a range; `open` is what an empty end means (iptables: 0 or 65535). */
function portNumber(text: string, open: number): number | string {
  if (text === '') return open;
  if (text.length > 1 && text.startsWith('0')) {
    return `a leading zero: iptables reads "${text}" as octal (010 is port 8) or rejects it (080)`;
  }
  return parseDecimal(text, MAX_PORT) ?? 'a port is at most 65535';
}

/**
 * A port list item: `80`, `1000:2000`, an open range `:1000` (0-1000) or `1000:` (1000-65535),
 * a one-port range `80:80`, each possibly padded with spaces. Returns an error message when
 * iptables would reject the item or read it otherwise than it looks: port 0, leading zeros,
 * reversed ranges, service names, a lone `:`.
 */
export function parsePortItem(item: string): PortRange | string {
  const parts = ITEM.exec(item);
  if (!parts) {
    return SERVICE_NAME.test(item)
      ? 'service names are not accepted (iptables looks them up in the /etc/services of the image it runs in): write the port number'
      : 'expected a port 1-65535 or a range FIRST:LAST (either end may be left out)';
  }
  const [, , firstText = '', colon, lastText = ''] = parts;
  if (colon === '') {
    if (firstText === '') return 'expected a port 1-65535 or a range FIRST:LAST (either end may be left out)';
    if (firstText === '0') return 'port 0 matches no real traffic';
  } else if (firstText === '' && lastText === '') {
    return 'a lone ":" is every port: write 1:65535 if that is meant';
  }
  const first = portNumber(firstText, 0);
  const last = colon === '' ? first : portNumber(lastText, MAX_PORT);
  if (typeof first === 'string') return first;
  if (typeof last === 'string') return last;
  if (first > last) return 'the range starts after it ends (iptables rejects it)';
  if (last === 0) return 'port 0 matches no real traffic';
  return { first, last, text: item };
}

/**
 * The tunnel port (`-e`): a port or a closed range `FIRST:LAST`, as written. Upstream also puts
 * it into `-m multiport ! --dports 53,TUNNEL` when DNS is captured, and multiport rejects
 * padding, open ranges and one-port ranges, so those are refused here.
 */
export function parseTunnelPort(text: string): PortRange | string {
  const port = parsePortItem(text);
  if (typeof port === 'string') return port;
  if (text.includes(' ')) return 'spaces are not accepted in the tunnel port';
  if (/^:|:$/.test(text)) return 'an open range is not accepted for the tunnel port (multiport rejects it)';
  if (text.includes(':') && port.first === port.last) {
    return 'a one-port range is not accepted for the tunnel port (multiport rejects it): write the port';
  }
  return port;
}
