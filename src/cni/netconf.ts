/**
 * Reading the network configuration from stdin: JSON, the shape of NETCONF_SCHEMA (checked by
 * the validator generated from it), a supported `cniVersion`, and the values the schema cannot
 * judge (`lock_timeout`'s duration). Every problem is the spec's error, naming key and value.
 */
import { parseGoDuration } from '../config/duration.js';
import { validate } from './generated/validate-netconf.js';
import { CNI_ERROR, CniError, type NetConf, SUPPORTED_VERSIONS } from './protocol.js';

/** The value at a JSON pointer the validator names (`/lock_timeout`), for its error message. */
function valueAt(data: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>(
      (node, key) => (node !== null && typeof node === 'object' ? (node as never)[key] : undefined),
      data,
    );
}

/** The network configuration on stdin, checked. */
export function readConf(stdin: string): NetConf {
  let data: unknown;
  try {
    data = JSON.parse(stdin);
  } catch (error) {
    throw new CniError(CNI_ERROR.decodeFailure, 'cannot decode the network configuration', (error as Error).message);
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) =>
      e.instancePath
        ? `${e.instancePath.slice(1)}: ${e.message ?? 'invalid'}, not ${JSON.stringify(valueAt(data, e.instancePath))}`
        : `(top level): ${e.message ?? 'invalid'}`,
    );
    throw new CniError(CNI_ERROR.invalidNetworkConfig, 'invalid network configuration', problems.join('; '));
  }
  const conf = data as unknown as NetConf;
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(conf.cniVersion))
    throw new CniError(
      CNI_ERROR.incompatibleVersion,
      `cniVersion ${conf.cniVersion} is not supported`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  if (conf.lock_timeout !== undefined && parseGoDuration(conf.lock_timeout) === undefined)
    throw new CniError(
      CNI_ERROR.invalidNetworkConfig,
      'invalid network configuration',
      `lock_timeout: expected a duration such as 30s, 1500ms or 1m (0: do not wait), not ${JSON.stringify(conf.lock_timeout)}`,
    );
  return conf;
}
