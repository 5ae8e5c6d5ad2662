#!/usr/bin/env node
/**
 * Builds the runtime stage of Dockerfile.init as a plain directory, without Docker, so the
 * image's contents can be tested where no Docker engine runs.
 *
 *   node scripts/image-layout.mjs [--dockerfile Dockerfile.init] [--skip-build] [out-dir]
 *
 * Everything comes from the Dockerfile, read instruction by instruction:
 * - the stage a `COPY --from=<stage>` names must `COPY . .` into its WORKDIR, so its files are
 *   the repository's; its RUN steps after that copy (the build) run in the repository, the ones
 *   before it (the dependency install) are stood in for by the repository's node_modules;
 * - the last stage is replayed in order into out-dir, which stands for its WORKDIR: COPY copies,
 *   `npm …` RUN steps run there, `apt-get …` steps are left to the host (which must have the
 *   same packages), any other step is an error.
 * Prints a JSON manifest on stdout (npm's output goes to stderr). Exits non-zero on any failure.
 */
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** Dockerfile text → [{ keyword, args }], continuations joined, comment lines dropped. */
function instructions(text) {
  const out = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    pending += `${line.endsWith('\\') ? line.slice(0, -1) : line} `;
    if (line.endsWith('\\')) continue;
    const [keyword = ''] = pending.trim().split(/\s+/);
    out.push({ keyword: keyword.toUpperCase(), args: pending.trim().slice(keyword.length).trim() });
    pending = '';
  }
  return out;
}

/** Instructions → stages ({ name, workdir, body }); ARG defaults before the first FROM are expanded. */
function stages(list) {
  const args = {};
  const result = [];
  for (const { keyword, args: text } of list) {
    if (keyword === 'FROM') {
      const [image = '', as, name] = text.replace(/\$\{?(\w+)\}?/g, (_, k) => args[k] ?? '').split(/\s+/);
      result.push({ name: as?.toUpperCase() === 'AS' ? name : String(result.length), image, workdir: '/', body: [] });
    } else if (result.length === 0) {
      if (keyword !== 'ARG') throw new Error(`${keyword} before the first FROM`);
      const [k = '', v = ''] = text.split(/=(.*)/);
      args[k] = v;
    } else {
      const stage = result[result.length - 1];
      if (keyword === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, text);
      stage.body.push({ keyword, args: text, workdir: stage.workdir });
    }
  }
  return result;
}

/** `--flag=value … rest` → { flags, words } (words split on blanks; no quoting in COPY). */
function splitFlags(text) {
  const words = text.split(/\s+/);
  const flags = {};
  while (words[0]?.startsWith('--')) {
    const [k = '', v = 'true'] = words.shift().slice(2).split(/=(.*)/);
    flags[k] = v;
  }
  return { flags, words };
}

function run(command, cwd, env) {
  console.error(`image-layout: (in ${cwd}) ${command}`);
  const result = spawnSync('sh', ['-c', command], { cwd, env, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`\`${command}\` failed with ${result.status ?? result.signal}`);
}

/** The environment a RUN step sees: ours without npm's lifecycle variables, plus the stage's ENV. */
const baseEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/** Path inside the image → path on this machine, for paths under `root` only. */
function mapper(root, host, what) {
  return (imagePath) => {
    const rel = posix.relative(root, imagePath);
    if (rel.startsWith('..') || posix.isAbsolute(rel)) throw new Error(`${what}: ${imagePath} is outside ${root}`);
    return join(host, rel);
  };
}

/** Replays the stage `COPY --from` names: returns its image-path → repository-path mapper. */
function sourceStage(stage, build) {
  const copyAll = stage.body.findIndex((i) => i.keyword === 'COPY' && /^\.\s+\S+$/.test(i.args));
  if (copyAll < 0) throw new Error(`stage ${stage.name} must \`COPY . .\` so its files are the repository's`);
  const { args, workdir } = stage.body[copyAll];
  const steps = stage.body.slice(copyAll + 1);
  for (const step of steps) {
    if (step.keyword !== 'RUN')
      throw new Error(`stage ${stage.name}: ${step.keyword} after \`COPY . .\` is not modelled`);
    if (build) run(splitFlags(step.args).words.join(' '), REPO, baseEnv());
  }
  return mapper(posix.resolve(workdir, args.split(/\s+/)[1] ?? ''), REPO, `stage ${stage.name}`);
}

/** Docker's COPY: a directory's contents go into dest; files go to dest, or into it if it ends in `/`. */
async function copy(sources, dest, mode) {
  const intoDir = dest.endsWith('/') || sources.length > 1;
  for (const source of sources) {
    if (/[*?[]/.test(source)) throw new Error(`COPY globs are not modelled: ${source}`);
    const isDir = (await stat(source)).isDirectory();
    const target = intoDir && !isDir ? join(dest, basename(source)) : dest;
    await cp(source, target, { recursive: true });
    if (mode !== undefined) await chmod(target, parseInt(mode, 8));
  }
}

async function buildLayout({ dockerfile, out, build }) {
  const all = stages(instructions(await readFile(dockerfile, 'utf8')));
  const runtime = all[all.length - 1];
  const toHost = mapper(runtime.body.find((i) => i.keyword === 'WORKDIR')?.workdir ?? '/', out, 'runtime stage');
  const manifest = {
    dir: out,
    image: runtime.image,
    workdir: '',
    user: '',
    entrypoint: [],
    env: {},
    copied: [],
    ran: [],
    leftToHost: [],
  };
  const fromStage = {};
  for (const { keyword, args, workdir } of runtime.body) {
    manifest.workdir = workdir;
    const { flags, words } = splitFlags(args);
    if (keyword === 'WORKDIR') await mkdir(toHost(workdir), { recursive: true });
    else if (keyword === 'COPY') {
      const dest = words.pop() ?? '';
      const destPath = toHost(posix.resolve(workdir, dest)) + (dest.endsWith('/') ? '/' : '');
      // --chown and --link change nothing that matters here: the image runs as root.
      const unknown = Object.keys(flags).filter((f) => !['from', 'chmod', 'chown', 'link'].includes(f));
      if (unknown.length > 0) throw new Error(`COPY --${unknown.join(', --')} is not modelled`);
      const stage = flags.from && all.find((s) => s.name === flags.from);
      if (flags.from && !stage) throw new Error(`COPY --from=${flags.from}: no such stage`);
      if (stage) fromStage[stage.name] ??= sourceStage(stage, build);
      const toRepo = stage ? fromStage[stage.name] : (p) => resolve(REPO, p);
      const sources = words.map(toRepo);
      await copy(sources, destPath, flags.chmod);
      manifest.copied.push({ from: stage ? stage.name : 'context', paths: words, to: posix.resolve(workdir, dest) });
    } else if (keyword === 'RUN') {
      const command = words.join(' ');
      if (/^apt-get\s/.test(command)) manifest.leftToHost.push(command);
      else if (/^npm\s/.test(command)) {
        run(command, toHost(workdir), { ...baseEnv(), ...manifest.env });
        manifest.ran.push(command);
      } else throw new Error(`RUN step not modelled: ${command}`);
    } else if (keyword === 'ENV') {
      for (const pair of words) {
        const [k = '', v = ''] = pair.split(/=(.*)/);
        manifest.env[k] = v;
      }
    } else if (keyword === 'USER') manifest.user = args;
    else if (keyword === 'ENTRYPOINT') {
      if (!args.startsWith('['))
        throw new Error('ENTRYPOINT must be exec form (a JSON array), or `args` would be ignored');
      manifest.entrypoint = JSON.parse(args);
    } else if (!['LABEL', 'ARG', 'CMD'].includes(keyword))
      throw new Error(`${keyword} in the runtime stage is not modelled`);
  }
  // The entrypoint as this machine runs it: its program mapped into the layout.
  const [program = '', ...rest] = manifest.entrypoint;
  manifest.hostEntrypoint = [program.startsWith('/') ? toHost(program) : program, ...rest];
  return manifest;
}

async function cli(argv) {
  let dockerfile = join(REPO, 'Dockerfile.init');
  let build = true;
  let out;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dockerfile') dockerfile = resolve(argv[++i] ?? '');
    else if (argv[i] === '--skip-build') build = false;
    else out = resolve(argv[i] ?? '');
  }
  const made = out === undefined;
  out ??= await mkdtemp(join(tmpdir(), 'image-layout-'));
  if (!relative(REPO, out).startsWith('..'))
    throw new Error(`${out} is inside the repository; its node_modules would leak in`);
  await mkdir(out, { recursive: true });
  if ((await readdir(out)).length > 0) throw new Error(`${out} is not empty`);
  try {
    process.stdout.write(`${JSON.stringify(await buildLayout({ dockerfile, out, build }), null, 2)}\n`);
  } catch (error) {
    if (made) await rm(out, { recursive: true, force: true });
    throw error;
  }
}

await cli(process.argv.slice(2)).catch((error) => {
  console.error(`image-layout: ${error.message}`);
  process.exitCode = 1;
});
