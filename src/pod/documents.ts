/**
 * YAML or JSON text → the objects in it: every document of a multi-document file, with the
 * items of a `List` in place of the list. Loaded only by the `pod` sub-command and the CNI
 * plugin (the YAML library is not part of a plain run).
 */
import { parseAllDocuments } from 'yaml';
import { ConfigError } from '../errors.js';
import { carriesPod, readPod, type PodView } from './kube.js';

/** Every document in `text`; `source` names the input in errors (a flag and a file). */
export function parseDocuments(text: string, source: string, value: string): unknown[] {
  const documents = parseAllDocuments(text);
  const errors = (Array.isArray(documents) ? documents : [documents]).flatMap((d) => d.errors);
  if (errors.length > 0)
    throw new ConfigError(errors.map((error) => ({ source, value, message: `not YAML or JSON: ${error.message}` })));
  const list = (Array.isArray(documents) ? documents : [documents]).map((d) => d.toJS() as unknown);
  return list.flatMap((document) => {
    const items = (document as { kind?: unknown; items?: unknown } | null)?.items;
    return (document as { kind?: unknown } | null)?.kind === 'List' && Array.isArray(items) ? items : [document];
  });
}

/** The first document, or `{}` for an empty file (the defaults then apply). */
export function parseSettingsDocument(text: string, source: string, value: string): unknown {
  const [first] = parseDocuments(text, source, value).filter((d) => d !== null && d !== undefined);
  return first ?? {};
}

/** The `index`-th pod-carrying document (counting from 0). */
export function selectPod(documents: readonly unknown[], index: number, value: string): PodView {
  const pods = documents.filter(carriesPod);
  const chosen = pods[index];
  if (chosen === undefined)
    throw new ConfigError([
      {
        source: index === 0 ? 'pod' : '--index',
        value: index === 0 ? value : String(index),
        message:
          pods.length === 0
            ? 'no Pod or workload with a pod template in the input'
            : `the input holds ${pods.length} pod${pods.length === 1 ? '' : 's'} (--index counts from 0)`,
      },
    ]);
  return readPod(chosen);
}
