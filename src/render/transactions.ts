/**
 * The restore payloads of a run other than the plan's own (render/restore.ts): replacing what
 * of ours is live, cleaning it up, and putting tables back as they were. They are written from
 * typed values that src/state/ works out from the live state; this file only spells them.
 * Each table of a payload is one transaction: both backends commit at each table's COMMIT line.
 */
import { BUILTINS_BY_TABLE } from '../model/chains.js';
import type { RuleOp, TableName } from '../model/netfilter.js';
import { opArgs } from './args.js';

/** A chain as iptables-save printed it: its declaration and its rules, in kernel order. */
export interface SavedChain {
  readonly name: string;
  /** From the chain's `:NAME POLICY [PACKETS:BYTES]` line; absent when save did not declare it. */
  readonly declaration?: { readonly policy: string; readonly counters: string };
  /** Each rule's line as save printed it (`-A NAME …`), which restores the rule as it was. */
  readonly rules: readonly { readonly text: string }[];
}

/** A table as iptables-save printed it: what a rollback puts back. */
export interface SavedTable {
  readonly name: string;
  readonly chains: readonly SavedChain[];
}

/** The edits of one table in a transaction that replaces or removes what of ours is live. */
export interface TableEdit {
  readonly table: TableName;
  /** Chains declared: created, or flushed when they exist. */
  readonly declare: readonly string[];
  /** Rules deleted, each by its chain and the rule spec save printed (after `-A CHAIN`). */
  readonly deletes: readonly { readonly chain: string; readonly spec: readonly string[] }[];
  /** Chains deleted (already flushed by their declaration). */
  readonly removeChains: readonly string[];
  /** The planned rule operations, after the rest. */
  readonly ops: readonly RuleOp[];
}

/** A payload and the tables it names, in order: what a rollback of it must put back. */
export interface Payload {
  readonly text: string;
  readonly tables: readonly TableName[];
}

/** iptables-save quotes an argument with spaces; a `-D` line must do the same. */
const quote = (token: string) => (/\s/.test(token) ? `"${token.replace(/"/g, '\\"')}"` : token);

const lines = (list: readonly string[]) => list.map((line) => `${line}\n`).join('');

/** Table edits → one payload, tables without an edit left out. */
export function renderTableEdits(edits: readonly TableEdit[]): Payload {
  const blocks = edits.flatMap((edit) => {
    const body = [
      // Declaring a chain creates it, or flushes it when it exists.
      ...edit.declare.map((chain) => `:${chain} - [0:0]`),
      ...edit.deletes.map(({ chain, spec }) => ['-D', chain, ...spec].map(quote).join(' ')),
      ...edit.removeChains.map((chain) => `-X ${chain}`),
      ...edit.ops.map((op) => opArgs(op).join(' ')),
    ];
    return body.length > 0 ? [{ table: edit.table, body: [`*${edit.table}`, ...body, 'COMMIT'] }] : [];
  });
  return { text: lines(blocks.flatMap((block) => block.body)), tables: blocks.map((block) => block.table) };
}

function tableLines(table: SavedTable): string[] {
  return [
    `*${table.name}`,
    ...table.chains.flatMap(({ name, declaration }) =>
      declaration ? [`:${name} ${declaration.policy} ${declaration.counters}`] : [],
    ),
    ...table.chains.flatMap((chain) => chain.rules.map((rule) => rule.text)),
    'COMMIT',
  ];
}

/** Saved tables back as save text (without save's comment lines). */
export function renderSavedTables(tables: readonly SavedTable[]): string {
  return lines(tables.flatMap(tableLines));
}

/**
 * Puts the given tables back exactly as they were saved (`iptables-restore` without
 * --noflush replaces each table it names). A table that did not exist before is emptied.
 */
export function renderRollback(before: readonly SavedTable[], tables: readonly TableName[]): string {
  return lines(
    tables.flatMap((name) => {
      const table = before.find((saved) => saved.name === name);
      if (table) return tableLines(table);
      return [`*${name}`, ...BUILTINS_BY_TABLE[name].map((chain) => `:${chain} ACCEPT [0:0]`), 'COMMIT'];
    }),
  );
}
