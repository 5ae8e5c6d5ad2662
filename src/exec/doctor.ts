/**
 * `doctor`'s probes: read-only looks at the namespace a run would work in, each turned into a
 * finding (data; the CLI words the fixes). They reuse the run's own checks, so a finding of
 * severity `error` is exactly what would stop a run before its first write.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isIptablesError } from '../errors.js';
import { FAMILY, type IpFamily } from '../model/family.js';
import type { CapturePlan } from '../plan/plan-capture.js';
import { hasOwnedState } from '../state/compare.js';
import { stateOf } from '../state/save-parser.js';
import { type Backend, lockFileFor, type Variant } from './backend.js';
import { ownPrivileges, neededCapabilities, describePrivileges } from './capabilities.js';
import type { CommandRunner } from './command.js';
import { parseLive } from './iptables.js';
import { checkNetwork } from './network.js';
import { nativeNftTables, nftInstalled } from './nft-tables.js';
import { readSave } from './read-save.js';
import { describeRemoval, staleNetwork } from './stale-network.js';
import { liveTproxyMarks } from '../state/ours.js';
import { shadowingRules } from '../state/shadowing.js';

export type Severity = 'ok' | 'info' | 'warning' | 'error';

/** What a probe found. `id` names the check (the CLI keys its fix texts on it). */
export interface Finding {
  readonly id: string;
  readonly severity: Severity;
  readonly finding: string;
}

export interface DoctorContext {
  readonly runner: CommandRunner;
  readonly plan: CapturePlan;
  readonly networkNamespace?: string;
  readonly path: string | undefined;
}

const onPath = (path: string | undefined, file: string) =>
  (path ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, file)));

/**
 * One backend's state: readable, holding ours, holding anyone's, shadowing our jump. The TPROXY
 * marks our live rules use go into `marks`: a run takes their policy routing for its own.
 */
async function backendFindings(
  context: DoctorContext,
  family: IpFamily,
  variant: Variant,
  marks: number[],
): Promise<Finding[]> {
  const binary = `${FAMILY[family].iptables}-${variant}`;
  const id = `${family}-${variant}`;
  if (!onPath(context.path, `${binary}-save`))
    return [{ id: `${id}-binary`, severity: 'info', finding: `${binary}-save is not on PATH` }];
  const result = await readSave(context.runner, binary).catch((error: Error) => ({
    exitCode: -1,
    stdout: '',
    stderr: error.message,
  }));
  if (result.exitCode !== 0)
    return [
      {
        id: `${id}-read`,
        severity: 'warning',
        finding: `${binary}-save failed (exit ${result.exitCode}): ${result.stderr.trim()}`,
      },
    ];
  try {
    const live = stateOf(parseLive(result.stdout, { family, binary } as Pick<Backend, 'family' | 'binary'>));
    marks.push(...liveTproxyMarks(live));
    const findings: Finding[] = [];
    const ours = hasOwnedState(live);
    const rules = /^-A /m.test(result.stdout);
    findings.push({
      id: `${id}-state`,
      severity: 'ok',
      finding: `${binary}-save reads the state: ${ours ? 'rules of ours are live' : rules ? 'foreign rules only' : 'no rules'}`,
    });
    for (const rule of shadowingRules(live))
      findings.push({
        id: 'shadowing',
        severity: 'warning',
        finding: `${family} ${variant} ${rule}: ends the chain before our jump`,
      });
    return findings;
  } catch (error) {
    if (!isIptablesError(error)) throw error;
    return [{ id: 'unreadable', severity: 'error', finding: error.message.split('\n')[0] ?? error.message }];
  }
}

/** Rules of ours in both backends of a family: two copies of the capture. */
function copies(findings: readonly Finding[], family: IpFamily): Finding[] {
  const both = (['nft', 'legacy'] as const).every((v) =>
    findings.some((f) => f.id === `${family}-${v}-state` && f.finding.endsWith('rules of ours are live')),
  );
  return both
    ? [
        {
          id: 'other-copy',
          severity: 'error',
          finding: `${family}: rules of ours are live in both nft and legacy iptables`,
        },
      ]
    : [];
}

function capabilityFindings(context: DoctorContext): Finding[] {
  const privileges = ownPrivileges();
  if (!privileges) return [{ id: 'capabilities', severity: 'info', finding: '/proc/self/status cannot be read' }];
  const needed = neededCapabilities(context.networkNamespace !== undefined);
  const missing = needed.filter((cap) => !privileges.held.has(cap));
  const fatal = missing.filter((cap) => cap !== 'NET_RAW');
  return [
    {
      id: 'capabilities',
      severity: fatal.length > 0 ? 'error' : missing.length > 0 ? 'warning' : 'ok',
      finding: describePrivileges(privileges, needed),
    },
  ];
}

/** Legacy's lock file: can this process create or open it for writing? */
function lockFinding(context: DoctorContext): Finding {
  const file = context.networkNamespace ? lockFileFor(context.networkNamespace) : '/run/xtables.lock';
  const target = existsSync(file) ? file : dirname(file);
  try {
    accessSync(target, constants.W_OK);
    return { id: 'lock', severity: 'ok', finding: `legacy's xtables lock ${file} can be written` };
  } catch (error) {
    return {
      id: 'lock',
      severity: 'warning',
      finding: `legacy's xtables lock ${file} cannot be written: ${(error as NodeJS.ErrnoException).code}`,
    };
  }
}

async function ipv6Finding(context: DoctorContext): Promise<Finding[]> {
  if (!context.plan.rulesets.some((r) => r.family === 'ipv6')) return [];
  const result = await context.runner
    .run({ file: 'cat', args: ['/proc/sys/net/ipv6/conf/lo/disable_ipv6'] })
    .catch(() => undefined);
  const disabled = result?.exitCode !== 0 || result.stdout.trim() !== '0';
  return [
    {
      id: 'ipv6-disabled',
      severity: disabled ? 'error' : 'ok',
      finding: disabled
        ? 'IPv6 rules are planned, but IPv6 is disabled on lo (or cannot be read)'
        : 'IPv6 is enabled on lo',
    },
  ];
}

/** Every probe, in a stable order. */
export async function diagnose(context: DoctorContext): Promise<Finding[]> {
  const findings: Finding[] = [...capabilityFindings(context)];
  const marks: number[] = [];
  const families = context.plan.rulesets.map((r) => r.family);
  for (const family of families) {
    const perFamily = [
      ...(await backendFindings(context, family, 'nft', marks)),
      ...(await backendFindings(context, family, 'legacy', marks)),
    ];
    findings.push(...perFamily, ...copies(perFamily, family));
  }
  if (nftInstalled(context.path)) {
    const tables = await nativeNftTables(context.runner);
    for (const table of tables)
      findings.push({ id: 'native-nftables', severity: 'error', finding: `${table} is live` });
  }
  try {
    // As a run judges it: an earlier TPROXY configuration's policy routing is replaced, no conflict.
    const stale = await staleNetwork(context.runner, families, [...new Set(marks)], context.plan.network);
    if (stale.length > 0)
      findings.push({
        id: 'stale-routing',
        severity: 'info',
        finding: `a run removes an earlier TPROXY configuration's routing first: ${stale.map(describeRemoval).join('; ')}`,
      });
    await checkNetwork(context.runner, context.plan.network, stale);
    if (context.plan.network.some((s) => s.kind === 'localRoute'))
      findings.push({
        id: 'tproxy-routes',
        severity: 'ok',
        finding: 'the TPROXY route table and fwmark rule are free or ours',
      });
  } catch (error) {
    if (!isIptablesError(error)) throw error;
    findings.push({ id: 'tproxy-routes', severity: 'error', finding: error.message.replace(/\n\s*/g, ' ') });
  }
  findings.push(lockFinding(context), ...(await ipv6Finding(context)));
  return findings;
}
