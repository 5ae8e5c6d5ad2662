import { describe, expect, it } from 'vitest';
import { formatPortRange } from './network.js';
import { parsePortItem, parseTunnelPort } from './ports.js';

describe('parsePortItem (upstream copies port items verbatim; iptables reads them)', () => {
  it.each([
    ['80', 80, 80],
    ['1', 1, 1],
    ['65535', 65535, 65535],
    ['1000:2000', 1000, 2000],
    ['51980:51980', 51980, 51980],
    [':1000', 0, 1000],
    ['1000:', 1000, 65535],
    ['0:10', 0, 10],
    [' 81', 81, 81],
    ['80  ', 80, 80],
    [' 1000:2000 ', 1000, 2000],
  ])('accepts %j as %i-%i and prints it as written', (text, first, last) => {
    const port = parsePortItem(text);
    expect(port).toEqual({ first, last, text });
    expect(formatPortRange(port as Exclude<typeof port, string>)).toBe(text);
  });

  it.each([
    ['0', /port 0/],
    ['0:0', /port 0/],
    ['080', /leading zero/],
    ['010', /octal/],
    ['1:080', /leading zero/],
    ['65536', /at most 65535/],
    ['10:65536', /at most 65535/],
    ['90:80', /starts after it ends/],
    [':', /lone ":"/],
    ['http', /service names/],
    [' https ', /service names/],
    ['', /expected a port/],
    ['  ', /expected a port/],
    ['\t80', /expected a port/],
    ['80\n-A', /expected a port/],
    ['+80', /expected a port/],
    ['-5', /expected a port/],
    ['1:2:3', /expected a port/],
    ['80-90', /expected a port/],
    ['0x50', /expected a port/],
    ['1e3', /expected a port/],
    ['80 81', /expected a port/],
    ['80,81', /expected a port/],
  ])('refuses %j with the reason', (text, reason) => {
    const problem = parsePortItem(text);
    expect(problem).toBeTypeOf('string');
    expect(problem).toMatch(reason);
  });
});

describe('parseTunnelPort (also used inside multiport, which is stricter)', () => {
  it.each(['15008', '15008:15009', '0:100'])('accepts %j as written', (text) => {
    expect(parseTunnelPort(text)).toMatchObject({ text });
  });

  it.each([
    ['15008:15008', /one-port range/],
    [':15008', /open range/],
    ['15008:', /open range/],
    [' 15008', /spaces/],
    ['0', /port 0/],
    ['15009:15008', /starts after/],
  ])('refuses %j', (text, reason) => {
    expect(parseTunnelPort(text)).toMatch(reason);
  });
});
