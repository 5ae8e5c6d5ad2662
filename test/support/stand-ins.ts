/**
 * Stand-in programs first on PATH, for kernel tests that need a run to stop, fail or be
 * watched at one exact point. Each stand-in counts its calls; on the chosen call it blocks
 * (`block`: becomes a `sleep`, its pid in DIR/blocked, until killed), pauses (`pause`: waits
 * for a `sleep` whose pid is in DIR/blocked, then goes on), fails as a restore does (`fail`),
 * or refuses with a given message (`refuse`, every call). `run` runs a shell command first;
 * `log` records the mode (T: it adds a TPROXY rule, else R) of each payload a `--noflush` restore applied for good in
 * DIR/restored. Otherwise each execs the real program.
 */
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { sh } from './kernel.js';

export interface StandIns {
  readonly block?: Readonly<Record<string, number>>;
  readonly pause?: Readonly<Record<string, number>>;
  readonly fail?: Readonly<Record<string, number>>;
  readonly refuse?: Readonly<Record<string, string>>;
  readonly run?: Readonly<Record<string, string>>;
  readonly log?: readonly string[];
}

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

async function real(name: string): Promise<string> {
  return (await sh('sh', ['-c', `command -v ${name}`])).stdout.trim();
}

function script(dir: string, name: string, realPath: string, spec: StandIns): string {
  const lines = [
    '#!/bin/sh',
    `d=${dir}; n=$(( $(cat "$d/count.${name}" 2>/dev/null || echo 0) + 1 )); echo $n > "$d/count.${name}"`,
  ];
  const block = spec.block?.[name];
  if (block) lines.push(`[ "$n" = ${block} ] && { echo $$ > "$d/b.tmp"; mv "$d/b.tmp" "$d/blocked"; exec sleep 600; }`);
  const pause = spec.pause?.[name];
  if (pause)
    lines.push(`[ "$n" = ${pause} ] && { sleep 600 & echo $! > "$d/b.tmp"; mv "$d/b.tmp" "$d/blocked"; wait; }`);
  const fail = spec.fail?.[name];
  if (fail) lines.push(`[ "$n" = ${fail} ] && { cat >/dev/null; echo "${name}: line 2 failed" >&2; exit 1; }`);
  const refuse = spec.refuse?.[name];
  if (refuse) lines.push(`cat >/dev/null; printf '%s\\n' ${quote(refuse)} >&2; exit 4`);
  const run = spec.run?.[name];
  if (run) lines.push(run);
  if (spec.log?.includes(name))
    lines.push(
      'case " $* " in *" --noflush "*)',
      '  p=$(cat); case "$p" in *"-j TPROXY "*) m=T;; *) m=R;; esac',
      `  printf '%s\\n' "$p" | ${realPath} "$@"; rc=$?; [ $rc = 0 ] && echo "$m ${name}" >> "$d/restored"; exit $rc;;`,
      'esac',
    );
  lines.push(`exec ${realPath} "$@"`);
  return `${lines.join('\n')}\n`;
}

/** Runs `fn` with the stand-ins first on PATH; `dir` holds their files. */
export async function withStandIns(
  spec: StandIns,
  fn: (env: Record<string, string>, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(`${tmpdir()}/iit-standins-`);
  try {
    const names = new Set(
      [spec.block, spec.pause, spec.fail, spec.refuse, spec.run].flatMap((m) => Object.keys(m ?? {})),
    );
    for (const name of spec.log ?? []) names.add(name);
    for (const name of names)
      await writeFile(`${dir}/${name}`, script(dir, name, await real(name), spec), { mode: 0o755 });
    await fn({ PATH: `${dir}:${process.env.PATH ?? ''}` }, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A directory of links to the programs a run uses (and node), those `keep` accepts: a PATH missing some. */
export async function programDir(keep: (name: string) => boolean): Promise<string> {
  const dir = await mkdtemp(`${tmpdir()}/iit-path-`);
  const names = ['node', 'flock', 'nsenter', 'ip'];
  for (const prefix of ['iptables', 'ip6tables'])
    for (const variant of ['-legacy', '-nft', ''])
      for (const suffix of ['', '-save', '-restore']) names.push(`${prefix}${variant}${suffix}`);
  for (const name of names.filter(keep)) {
    const target = await real(name).catch(() => '');
    if (target !== '') await symlink(target, `${dir}/${name}`);
  }
  return dir;
}
