/**
 * `istio-iptables doctor [FLAGS] [--json]`: read-only, for the same flags as a run. It asks
 * what a run would find (exec/doctor.ts) and adds what the CLI knows (derived settings, DNS
 * servers, payload size), then prints each finding with its fix. Exit 0 when a run would
 * succeed and be effective, 1 otherwise, 2 for bad flags. Loaded only for the word `doctor`.
 */
import { isConfigError, isIptablesError } from '../../errors.js';
import { diagnose, type Finding } from '../../exec/doctor.js';
import { netnsRunner, checkNetnsPath } from '../../exec/netns.js';
import { processRunner } from '../../exec/process-runner.js';
import { planCapture } from '../../plan/plan-capture.js';
import { limitWarnings } from '../../render/limits.js';
import { renderRestore } from '../../render/restore.js';
import type { ParsedConfig } from '../../config/to-capture-config.js';

/** What to do, by finding id (the flags are the CLI's to name). */
const FIXES: Readonly<Record<string, string>> = {
  unreadable:
    'look with the command named; rules iptables cannot show must be removed or moved to a table of their own',
  'other-copy': 'run with --migrate to remove the other copy in the same run, or --cleanup-only first',
  'native-nftables': "run with --migrate (or --cleanup-only) to delete the native-nftables mode's tables",
  'tproxy-routes':
    'choose a free table with -r/--istio-inbound-tproxy-route-table (and mark with -t), or remove what is there',
  capabilities: 'add NET_ADMIN and NET_RAW (and SYS_ADMIN for --network-namespace) to the securityContext capabilities',
  lock: 'legacy iptables needs a writable /run (an emptyDir); the nft backend needs no lock file',
  'ipv6-disabled': 'enable IPv6 in the pod, or pass --enable-inbound-ipv6=false',
  shadowing: 'the traffic that rule matches is never captured: move it after our jump if that is not intended',
  settings: 'see the warning',
  payload: '--compact-rules merges CIDR lists and groups port lists into fewer rules',
};

/** Findings from the configuration alone. */
function configFindings(parsed: ParsedConfig): Finding[] {
  const findings: Finding[] = parsed.warnings.map((warning) => ({
    id: 'settings',
    severity: 'warning',
    finding: warning,
  }));
  const { dns } = parsed.config;
  findings.push({
    id: 'dns',
    severity: 'info',
    finding:
      dns.mode === 'off'
        ? 'DNS capture is off'
        : dns.mode === 'all'
          ? 'DNS capture: port 53 to every destination (--capture-all-dns)'
          : `DNS capture: servers ${dns.servers.map((s) => s.text).join(', ') || '(none)'} (from --dns-servers-v4/-v6 when given, otherwise the nameserver lines of --resolv-conf, read by this process)`,
  });
  const plan = planCapture(parsed.config);
  const sizes = plan.rulesets.map((r) => `${r.family} ${Buffer.byteLength(renderRestore(r))} bytes`).join(', ');
  const over = limitWarnings(plan);
  findings.push(
    over.length > 0
      ? { id: 'payload', severity: 'warning', finding: over.join('; ') }
      : { id: 'payload', severity: 'ok', finding: `restore payloads: ${sizes}` },
  );
  return findings;
}

export async function doctor(
  argv: readonly string[],
  load: (argv: readonly string[]) => Promise<ParsedConfig | 'help'>,
  out: (text: string) => void,
  log: (line: string) => void,
): Promise<number> {
  const json = argv.includes('--json');
  let parsed: ParsedConfig | 'help';
  try {
    parsed = await load(argv.filter((a) => a !== '--json'));
  } catch (error) {
    if (isConfigError(error)) {
      log(`error: ${error.message}`);
      return 2;
    }
    if (!isIptablesError(error)) throw error;
    log(`error: ${error.message}`);
    return 1;
  }
  if (parsed === 'help') {
    out('istio-iptables doctor [FLAGS] [--json]: read-only checks of what a run with FLAGS would meet\n');
    return 0;
  }
  const netns = parsed.options.networkNamespace;
  if (netns)
    try {
      await checkNetnsPath(netns);
    } catch (error) {
      log(`error: ${(error as Error).message}`);
      return 1;
    }
  const plan = planCapture(parsed.config);
  const found = [
    ...configFindings(parsed),
    ...(await diagnose({
      runner: netnsRunner(processRunner, netns),
      plan,
      ...(netns ? { networkNamespace: netns } : {}),
      path: process.env.PATH,
    })),
  ].map((f) => (f.severity === 'ok' || f.severity === 'info' || !FIXES[f.id] ? f : { ...f, fix: FIXES[f.id] }));
  const ok = !found.some((f) => f.severity === 'error');
  if (json) out(`${JSON.stringify({ ok, findings: found }, null, 2)}\n`);
  else {
    for (const f of found) {
      out(`${f.severity.padEnd(7)} ${f.id}: ${f.finding}\n`);
      if ('fix' in f) out(`        fix: ${f.fix}\n`);
    }
    out(ok ? 'a run would succeed\n' : 'a run would fail: see the errors above\n');
  }
  return ok ? 0 : 1;
}
