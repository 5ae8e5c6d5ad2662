/**
 * Library API: parse settings into a typed `CaptureConfig`, plan the rules, render them, and
 * apply them. Everything exported here is pure, except the executor (src/exec). The CLI
 * (src/cli) is not part of the library: it is the program bin/istio-iptables runs.
 */
export type { CaptureConfig, DnsCapture, Interception, RunOptions, Selection } from './config/capture-config.js';
export { FLAG_SPECS, type FlagSpec } from './config/flag-spec.js';
export { resolveSettings, type RawSettings, type SettingsInput } from './config/settings.js';
export { deriveSettings, detectPodAddress, parseResolvConf, type HostFacts } from './config/derive.js';
export { toCaptureConfig, type ParsedConfig } from './config/to-capture-config.js';
export { CONFIG_SCHEMA } from './config/schema.js';
export type { IpFamily } from './model/family.js';
export type { ChainName, Match, Rule, RuleOp, Ruleset, TableName, Target } from './model/netfilter.js';
export type { Cidr, IpAddress, PortRange } from './model/network.js';
export { planCapture, type CapturePlan } from './plan/plan-capture.js';
export type { NetworkStep } from './plan/routes.js';
export { renderRestore } from './render/restore.js';
export type * from './model/nftables.js';
export { NFT_TABLES } from './model/nftables.js';
export { planNftCapture, type NftPlan } from './plan/nft/plan-nft.js';
export { renderTransaction } from './render/nft/transaction.js';
export { renderNftDryRun } from './render/nft/dry-run.js';
export { parseRuleset, type LiveTable, type LiveChain } from './state/nft/ruleset.js';
export { compareNft, type NftVerdict } from './state/nft/compare.js';
export { renderDryRun, renderUpstreamTranscript } from './render/dry-run.js';
export { checkCommands, cleanupCommands } from './render/commands.js';
export {
  ConfigError,
  HostFactError,
  IptablesError,
  isConfigError,
  isIptablesError,
  type Issue,
} from './errors.js';
export { podCapture, type CapturePath, type PodCapture, type PodCaptureInput } from './pod/capture.js';
export { readPod, type PodContainer, type PodView } from './pod/kube.js';
export { readMesh, readValues, type InjectorValues, type MeshSettings } from './pod/mesh.js';
export { parseDocuments } from './pod/documents.js';
export { applyCapture, type ApplyDeps, type ApplyOptions, type ApplyReport } from './exec/apply.js';
export { applyNftables, type NftAction, type NftApplyDeps, type NftApplyOptions } from './exec/nft/apply.js';
export type { Command, CommandResult, CommandRunner } from './exec/command.js';
export { inNetns, netnsRunner } from './exec/netns.js';
export { processRunner } from './exec/process-runner.js';
export { realSleep, type RetryPolicy } from './exec/retry.js';
export {
  CommandFailedError,
  RestoreFailedError,
  BinaryNotFoundError,
  NamespaceError,
  VerifyError,
  DriftError,
  NotPrivilegedError,
  ValidationFailedError,
  ModeConflictError,
  NftDriftError,
  NftVerifyError,
} from './errors.js';
