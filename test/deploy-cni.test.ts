/**
 * deploy/cni/: the conflist example, the containerd setting and the DaemonSet sketch agree with
 * each other and with the plugin: our entry comes after a primary plugin, declares the
 * pod-annotations capability, and passes the plugin's own network-config validator as the
 * runtime hands it over; the DaemonSet installs the plugin under the name the conflist's
 * `type` asks for, into the directories containerd reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { validate } from '../src/cni/generated/validate-netconf.js';
import { readConf } from '../src/cni/netconf.js';
import { POD_ANNOTATIONS_CAPABILITY } from '../src/cni/protocol.js';
import { REPO_ROOT } from './support/cli.js';

const DIR = join(REPO_ROOT, 'deploy/cni');
const read = (name: string) => readFileSync(join(DIR, name), 'utf8');

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: { type: string; capabilities?: Record<string, boolean>; ipam?: object }[];
}

const conflist = JSON.parse(read('10-istio-iptables.conflist')) as Conflist;
const [configMap, daemonSet] = parseAllDocuments(read('daemonset.yaml')).map((d) => d.toJS()) as [
  { kind: string; data: Record<string, string> },
  {
    kind: string;
    spec: {
      template: {
        metadata: { annotations: Record<string, string> };
        spec: { hostNetwork: boolean; volumes: { name: string; hostPath?: { path: string } }[] };
      };
    };
  },
];

describe('deploy/cni', () => {
  it('the conflist chains istio-iptables-cni after a primary plugin, with the pod-annotations capability', () => {
    const ours = conflist.plugins.at(-1);
    expect(ours?.type).toBe('istio-iptables-cni');
    expect(ours?.capabilities).toEqual({ [POD_ANNOTATIONS_CAPABILITY]: true });
    expect(conflist.plugins[0]?.ipam).toBeDefined();
    expect(conflist.plugins.filter((p) => p.type === 'istio-iptables-cni')).toHaveLength(1);
  });

  it("our entry, as the runtime passes it (cniVersion, name, prevResult, runtimeConfig), passes the plugin's validator", () => {
    const ours = conflist.plugins.at(-1);
    const passed = {
      ...ours,
      cniVersion: conflist.cniVersion,
      name: conflist.name,
      prevResult: { cniVersion: conflist.cniVersion, interfaces: [], ips: [] },
      runtimeConfig: { [POD_ANNOTATIONS_CAPABILITY]: { 'sidecar.istio.io/status': '{}' } },
    };
    expect(validate(passed), JSON.stringify(validate.errors)).toBe(true);
    // Also the checks beyond the schema (lock_timeout's duration).
    expect(readConf(JSON.stringify(passed))).toMatchObject({ lock_timeout: '30s', native_nftables: false });
  });

  it('the DaemonSet carries the same conflist and installs the plugin where containerd looks for it', () => {
    expect(configMap.kind).toBe('ConfigMap');
    expect(daemonSet.kind).toBe('DaemonSet');
    expect(JSON.parse(configMap.data['10-istio-iptables.conflist'] ?? '')).toEqual(conflist);
    const hostPaths = Object.fromEntries(
      daemonSet.spec.template.spec.volumes.flatMap((v) => (v.hostPath ? [[v.name, v.hostPath.path]] : [])),
    );
    const toml = read('containerd-config.toml');
    expect(toml).toContain(`bin_dir = "${hostPaths['cni-bin']}"`);
    expect(toml).toContain(`conf_dir = "${hostPaths['cni-conf']}"`);
    const script = configMap.data['install.sh'] ?? '';
    // The runtime runs the plugin named by `type` from bin_dir.
    expect(script).toContain('"$dest/istio-iptables-cni"');
    expect(script).toContain('/host/etc/cni/net.d/10-istio-iptables.conflist');
    // The installer itself must not be captured, nor wait for a pod network.
    expect(daemonSet.spec.template.spec.hostNetwork).toBe(true);
    expect(daemonSet.spec.template.metadata.annotations['sidecar.istio.io/inject']).toBe('false');
  });

  it('install.sh installs a launcher that runs the plugin (paths moved under a temporary "host")', () => {
    const root = mkdtempSync(join(tmpdir(), 'iit-install-'));
    try {
      for (const dir of ['host/opt/cni/bin', 'host/etc/cni/net.d', 'config'])
        mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(
        join(root, 'config/10-istio-iptables.conflist'),
        configMap.data['10-istio-iptables.conflist'] ?? '',
      );
      const script = (configMap.data['install.sh'] ?? '')
        .replaceAll('/host/', `${root}/host/`)
        .replaceAll('/config/', `${root}/config/`)
        .replaceAll('/app/', `${REPO_ROOT}/`);
      execFileSync('/bin/sh', ['-c', script]);
      expect(JSON.parse(readFileSync(join(root, 'host/etc/cni/net.d/10-istio-iptables.conflist'), 'utf8'))).toEqual(
        conflist,
      );
      const version = execFileSync(join(root, 'host/opt/cni/bin/istio-iptables-cni'), {
        env: { CNI_COMMAND: 'VERSION' },
        input: '{"cniVersion":"1.0.0"}',
      });
      expect(JSON.parse(version.toString())).toMatchObject({ supportedVersions: expect.arrayContaining(['1.0.0']) });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
