/**
 * The argument lists Istio's sidecar injector writes for `istio-init` and `istio-validation`
 * (its injection template, with the mesh and pod annotations that add flags), exactly as the
 * container gets them: the sub-command word first, empty values as their own words, pilot-agent's
 * logging flags, OpenShift-style UIDs. Each must be accepted as it is and run with --dry-run.
 * The machine is faked: the pod has an IPv4 and an IPv6 address and a cluster DNS server.
 */
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../src/config/derive.js';
import { parseLog, runCli } from './support/cli.js';

const POD: HostFacts = {
  interfaceAddresses: async () => ['10.244.1.7', 'fd00:10:244:1::7'],
  readTextFile: async (path) => {
    if (path !== '/etc/resolv.conf') throw new Error(`unexpected read of ${path}`);
    return 'search default.svc.cluster.local\nnameserver 10.96.0.10\n';
  },
  lookupUserId: async () => undefined,
};

/** The template's fixed part (`istio-init`), as the injector renders it by default. */
const INIT = [
  'istio-iptables',
  '-p',
  '15001',
  '-z',
  '15006',
  '-u',
  '1337',
  '-m',
  'REDIRECT',
  '-i',
  '*',
  '-x',
  '',
  '-b',
  '*',
  '-d',
  '15090,15021,15020',
  '--log_output_level=default:info',
];

interface Case {
  readonly title: string;
  readonly args: readonly string[];
  /** Lines the payload must hold (exactly). */
  readonly lines?: readonly string[];
  /** The validation container applies nothing: no payload. */
  readonly noPayload?: true;
}

const CASES: readonly Case[] = [
  { title: 'the default istio-init', args: INIT, lines: ['-A ISTIO_OUTPUT -j ISTIO_REDIRECT'] },
  {
    title: 'istio-validation (runs as the proxy user, applies nothing)',
    args: [...INIT, '--run-validation', '--skip-rule-apply'],
    noPayload: true,
  },
  { title: 'global.logAsJson', args: [...INIT, '--log_as_json'] },
  {
    title: 'annotations: exclude and include ports and ranges, exclude interfaces, KubeVirt',
    args: [
      'istio-iptables',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      '1337',
      '-m',
      'REDIRECT',
      '-i',
      '10.0.0.1/8,172.16.0.0/12',
      '-x',
      '10.96.0.1/32',
      '-b',
      '8080,9090',
      '-d',
      '15090,15021,15020',
      '-o',
      '5432,6379',
      '-q',
      '443',
      '-k',
      'vnet0,vnet1',
      '-c',
      'net1',
      '--log_output_level=default:info',
    ],
    lines: [
      '-A ISTIO_OUTPUT -d 10.96.0.1/32 -j RETURN',
      '-A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT',
      '-A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN',
      '-A ISTIO_OUTPUT -p tcp --dport 443 -j ISTIO_REDIRECT',
      '-A PREROUTING -i net1 -j RETURN',
      '-I PREROUTING 1 -i vnet1 -d 172.16.0.0/12 -j ISTIO_REDIRECT',
    ],
  },
  {
    title: 'OpenShift: UIDs from the namespace range, empty include lists',
    args: [
      'istio-iptables',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      '1000629999',
      '-g',
      '1000629999',
      '-m',
      'REDIRECT',
      '-i',
      '',
      '-x',
      '',
      '-b',
      '',
      '-d',
      '15090,15021,15020',
      '--log_output_level=default:info',
    ],
    lines: ['-A ISTIO_OUTPUT -m owner --uid-owner 1000629999 -j RETURN'],
  },
  {
    title: 'DNS capture (ISTIO_META_DNS_CAPTURE), all DNS, drop invalid, dual stack',
    args: [...INIT, '--redirect-dns', '--capture-all-dns', '--drop-invalid', '--dual-stack'],
    lines: ['-A ISTIO_OUTPUT_DNS -p udp --dport 53 -j REDIRECT --to-port 15053', '-A ISTIO_DROP -j DROP'],
  },
  {
    title: 'DNS capture from resolv.conf',
    args: [...INIT, '--redirect-dns'],
    lines: ['-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 10.96.0.10/32 -j REDIRECT --to-port 15053'],
  },
  {
    title: 'TPROXY interception (sidecar.istio.io/interceptionMode)',
    args: [
      'istio-iptables',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      '1337',
      '-m',
      'TPROXY',
      '-i',
      '*',
      '-x',
      '',
      '-b',
      '*',
      '-d',
      '15090,15021,15020',
      '-t',
      '1337',
      '-r',
      '133',
      '--log_output_level=default:info',
    ],
    lines: ['-A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY'],
  },
  {
    title: "Istio 1.20's extra flags",
    args: [...INIT, '--iptables-trace-logging', '-f=false', '--iptables-version', 'iptables v1.8.9 (nf_tables)'],
    lines: ['iptables -t nat -A OUTPUT -j NFLOG --nflog-prefix JumpOutbound --nflog-group 1337 --nflog-size 20'],
  },
  {
    title: "pilot-agent's other logging flags",
    args: [
      ...INIT,
      '--log_caller=default',
      '--log_stacktrace_level',
      'default:none',
      '--log_rotate',
      '/tmp/unused.log',
      '--log_rotate_max_age=30',
      '--vklog',
      '0',
    ],
  },
];

describe.each(CASES)("the injector's $title", ({ args, lines, noPayload }) => {
  it('is accepted as it is and runs with --dry-run', async () => {
    const result = await runCli([...args, '--dry-run'], {}, POD);
    expect(result.code, result.stderr).toBe(0);
    if (noPayload) expect(result.stdout).toBe('');
    else expect(result.stdout.split('\n')[0]).toMatch(/^# ipv4: iptables/);
    const payload = result.stdout.split('\n');
    for (const line of lines ?? []) expect(payload).toContain(line);
    // The log is in the format the mesh asked for.
    if (args.includes('--log_as_json'))
      for (const line of result.stderr.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    else expect(parseLog(result.stderr)[0]?.msg).toMatch(/^Istio iptables variables:\n/);
  });
});
