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
  const whole = await runner.run({ file: `${binary}-save`, args: [] });
  if (whole.exitCode === 0 || !TABLE_LIST_DENIED.test(whole.stderr)) return whole;
  let stdout = '';
  for (const table of TABLES_BY_NAME) {
    const one = await runner.run({ file: `${binary}-save`, args: ['-t', table] });
    if (one.exitCode !== 0) return one;
    stdout += one.stdout;
  }
  return { exitCode: 0, stdout, stderr: '' };
}
