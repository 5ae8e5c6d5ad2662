/** Reading a backend's whole state with its `-save` program. */
import type { CommandResult, CommandRunner } from './command.js';

/** Legacy's whole-state read lists the tables from a root-only file (mode 9 of the corpus). */
const TABLE_LIST_DENIED = /_tables_names: Permission denied/;

/** The tables read one by one when the table list is root-only: ours, and filter (anyone's rules). */
const TABLES_BY_NAME = ['raw', 'mangle', 'nat', 'filter'] as const;

/**
 * `BINARY-save`'s output. A process with CAP_NET_ADMIN but not uid 0 cannot read legacy's
 * table list (/proc/net/ip_tables_names is root-only), yet can read each table it names: then
 * the tables are read one by one (`-t nat`, …), and a failure of any is the result.
 */
export async function readSave(runner: CommandRunner, binary: string): Promise<CommandResult> {
  const whole = withWarnings(await runner.run({ file: `${binary}-save`, args: [] }));
  if (whole.exitCode === 0 || !TABLE_LIST_DENIED.test(whole.stderr)) return whole;
  let stdout = '';
  for (const table of TABLES_BY_NAME) {
    const one = withWarnings(await runner.run({ file: `${binary}-save`, args: ['-t', table] }));
    if (one.exitCode !== 0) return one;
    stdout += one.stdout;
  }
  return { exitCode: 0, stdout, stderr: '' };
}

/**
 * A successful save's stderr lines, put before its output as comments: the state reader
 * (state/save-parser.ts) reads past the warnings it knows (iptables-nft's note that legacy
 * tables exist) and refuses any other, so a save that says more than its state is never
 * taken for the whole state.
 */
function withWarnings(result: CommandResult): CommandResult {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  if (result.exitCode !== 0 || lines.length === 0) return result;
  const comments = lines.map((line) => (line.startsWith('#') ? line : `# ${line}`)).join('\n');
  return { ...result, stdout: `${comments}\n${result.stdout}` };
}
