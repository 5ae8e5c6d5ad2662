/** `HostFacts` inside another network namespace: its addresses come from `ip -o addr show`. */
import type { HostFacts } from '../config/derive.js';
import { CommandFailedError } from '../errors.js';
import type { CommandRunner } from './command.js';

/** `2: eth0    inet 192.0.2.2/24 brd …` → `192.0.2.2`, IPv4 first as the kernel's dump lists them. */
export function parseIpAddrShow(text: string): string[] {
  const entries = text.split('\n').flatMap((line) => {
    const match = /\s(inet6?)\s+([0-9a-fA-F:.]+)\//.exec(line);
    return match ? [{ v6: match[1] === 'inet6', address: match[2] ?? '' }] : [];
  });
  return [...entries.filter((e) => !e.v6), ...entries.filter((e) => e.v6)].map((e) => e.address);
}

export function netnsHostFacts(local: HostFacts, runner: CommandRunner): HostFacts {
  return {
    ...local,
    async interfaceAddresses() {
      const result = await runner.run({ file: 'ip', args: ['-o', 'addr', 'show'] });
      if (result.exitCode !== 0)
        throw new CommandFailedError(['ip', '-o', 'addr', 'show'], result.exitCode, result.stderr);
      return parseIpAddrShow(result.stdout);
    },
  };
}
