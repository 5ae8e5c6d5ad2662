/**
 * The arguments Istio's sidecar injector gives istio-init by default (less the sub-command
 * word and the logging flag): what the build's warm-up runs (scripts/warm-up.mjs) and the
 * benchmarks (bench/lib.mjs) run. The tests keep their own copies: they are what the tests
 * hold the tool to, not what it is built from.
 */
export const INJECTOR_ARGS = Object.freeze([
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
]);
