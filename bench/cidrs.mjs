/**
 * The benchmarks' exclude list: /30s in 198.18.0.0/15 (RFC 2544's benchmarking block, which
 * nothing is sent to), in runs of four adjacent ones with a gap after each run, so that
 * --compact-rules can merge each run into one /28 (a quarter of the rules), as lists with
 * neighbouring ranges allow, but not everything into one prefix.
 */
export function excludedCidr(i) {
  const offset = (i >> 2) * 32 + (i & 3) * 4;
  return `198.${18 + (offset >> 16)}.${(offset >> 8) & 255}.${offset & 255}/30`;
}

export const excludedCidrs = (n) => Array.from({ length: n }, (_, i) => excludedCidr(i));
