/**
 * `--dry-run` output, a stable format other tools parse: stdout holds the restore payloads,
 * IPv4 then IPv6, each preceded by one comment line naming the command it would be piped to,
 * and every other command a real run would execute as a comment line. So
 * `--dry-run | grep -v '^#'` is upstream's payload, and one family's section pipes straight
 * into iptables-restore.
 */
import type { CapturePlan } from '../plan/plan-capture.js';
import { FAMILY, type IpFamily } from '../model/family.js';
import { cleanupCommands } from './commands.js';
import { ipArgs } from './ip.js';
import { perRuleCommands, renderRestore } from './restore.js';

const comment = (family: IpFamily, argv: readonly string[]) => `# ${family}: ${argv.join(' ')}\n`;

/**
 * With `restoreFormat: false` (`-f=false`) each family's section is the iptables commands a real
 * run would execute one by one (Istio 1.20's golden format), after one comment line.
 */
export function renderDryRun(plan: CapturePlan, options: { cleanupOnly: boolean; restoreFormat?: boolean }): string {
  const rules = plan.rulesets.map((ruleset) => {
    const binary = FAMILY[ruleset.family].iptables;
    if (options.cleanupOnly) {
      return cleanupCommands(ruleset)
        .map((args) => comment(ruleset.family, [binary, ...args]))
        .join('');
    }
    if (options.restoreFormat === false) {
      const commands = perRuleCommands(ruleset).map((args) => `${[binary, ...args].join(' ')}\n`);
      return `# ${ruleset.family}: ${binary}, one command per chain and rule (--restore-format=false)\n${commands.join('')}`;
    }
    return comment(ruleset.family, [`${binary}-restore`, '--noflush']) + renderRestore(ruleset);
  });
  const network = options.cleanupOnly ? [] : plan.network.map((step) => comment(step.family, ['ip', ...ipArgs(step)]));
  return [...rules, ...network].join('');
}

/**
 * Upstream's dry-run transcript (`DRY_RUN_FILE_PATH`), the format of its golden files: the two
 * state reads, the payloads (or cleanup commands), then the final state reads.
 */
export function renderUpstreamTranscript(plan: CapturePlan, options: { cleanupOnly: boolean }): string {
  const ipv6 = plan.rulesets.some((r) => r.family === 'ipv6');
  const body = plan.rulesets.map((ruleset) =>
    options.cleanupOnly
      ? cleanupCommands(ruleset)
          .map((args) => `${FAMILY[ruleset.family].iptables} ${args.join(' ')}\n`)
          .join('')
      : renderRestore(ruleset),
  );
  return ['iptables-save\n', 'ip6tables-save\n', ...body, 'iptables-save\n', ipv6 ? 'ip6tables-save\n' : ''].join('');
}
