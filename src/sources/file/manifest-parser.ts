// One manifest file's text -> the objects we read from it, and the problems found, per document.
// A broken document, or a broken object in a List, costs only itself: the rest of the file is kept.
import { Composer, Parser, type Document } from 'yaml';
import type { KubeKind, KubeObject } from '../../model/kube.ts';
import { normalizeObject } from '../normalize.ts';

/** The kinds the file source accepts, with their API versions (as the Kubernetes source reads them). */
export const ACCEPTED_KINDS: Readonly<Record<KubeKind, readonly string[]>> = {
  Ingress: ['networking.k8s.io/v1'],
  IngressClass: ['networking.k8s.io/v1'],
  Service: ['v1'],
  EndpointSlice: ['discovery.k8s.io/v1'],
  Secret: ['v1'],
};

export interface ParsedObject {
  readonly object: KubeObject;
  /** 1-based document number in the file (for messages). */
  readonly document: number;
}

export interface ManifestProblem {
  /** 1-based document number, when the problem is inside one. */
  readonly document?: number;
  /** 1-based line, when known. */
  readonly line?: number;
  readonly reason: string;
  /** The document (or file) could not be parsed at all, so we cannot know what it defined. */
  readonly syntax?: boolean;
}

export interface IgnoredObject {
  readonly document: number;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

export interface ParsedManifest {
  readonly objects: readonly ParsedObject[];
  readonly problems: readonly ManifestProblem[];
  /** Objects of kinds we do not read (Deployments next to the Services, ...). */
  readonly ignored: readonly IgnoredObject[];
}

const MAX_ALIASES = 1000; // YAML alias expansion limit ("billion laughs")

/** Never throws. `json` selects JSON parsing (.json files); otherwise multi-document YAML. */
export function parseManifest(text: string, json: boolean): ParsedManifest {
  const objects: ParsedObject[] = [];
  const problems: ManifestProblem[] = [];
  const ignored: IgnoredObject[] = [];
  const add = (value: unknown, document: number, item?: number): void => {
    accept(value, document, item, objects, problems, ignored);
  };

  if (json) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      problems.push({ reason: `invalid JSON: ${(err as Error).message}`, syntax: true });
      return { objects, problems, ignored };
    }
    addDocument(value, 1, add, problems);
    return { objects, problems, ignored };
  }

  // One document at a time (what parseAllDocuments does, without holding every Document of the
  // file at once): each Document is dropped right after toJS, so a big file's YAML tree never
  // lives whole in the heap. A throw from the parser still costs the whole file, as before.
  let docs: Iterator<Document.Parsed>;
  try {
    docs = new Composer({ prettyErrors: false }).compose(new Parser().parse(text));
  } catch (err) {
    return syntaxFailure(err);
  }
  let n = 0;
  for (;;) {
    let step: IteratorResult<Document.Parsed>;
    try {
      step = docs.next();
    } catch (err) {
      return syntaxFailure(err);
    }
    if (step.done === true) break;
    const doc = step.value;
    n++;
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      problems.push({ document: n, line: e.linePos?.[0]?.line, reason: `invalid YAML: ${firstLine(e.message)}`, syntax: true });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (err) {
      problems.push({ document: n, reason: `invalid YAML: ${firstLine((err as Error).message)}`, syntax: true });
      continue;
    }
    addDocument(value, n, add, problems);
  }
  return { objects, problems, ignored };
}

function syntaxFailure(err: unknown): ParsedManifest {
  return { objects: [], problems: [{ reason: `invalid YAML: ${(err as Error).message}`, syntax: true }], ignored: [] };
}

function addDocument(
  value: unknown,
  document: number,
  add: (value: unknown, document: number, item?: number) => void,
  problems: ManifestProblem[],
): void {
  if (value === null || value === undefined) return; // empty document ("---" at the end)
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ document, reason: 'not a Kubernetes object (expected a mapping with apiVersion, kind, metadata)' });
    return;
  }
  const v = value as Record<string, unknown>;
  // `kubectl get -o yaml` output: kind List (or FooList) with items.
  if (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) {
    v.items.forEach((item, i) => add(item, document, i));
    return;
  }
  add(value, document);
}

function accept(
  value: unknown,
  document: number,
  item: number | undefined,
  objects: ParsedObject[],
  problems: ManifestProblem[],
  ignored: IgnoredObject[],
): void {
  const where = item === undefined ? '' : `items[${item}]: `;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push({ document, reason: `${where}not a Kubernetes object` });
    return;
  }
  const v = value as Record<string, unknown>;
  const kind = typeof v.kind === 'string' ? v.kind : '';
  const apiVersion = typeof v.apiVersion === 'string' ? v.apiVersion : '';
  if (kind === '') {
    problems.push({ document, reason: `${where}missing kind` });
    return;
  }
  const meta = v.metadata as Record<string, unknown> | undefined;
  const name = typeof meta?.name === 'string' ? meta.name : '';
  const versions = (ACCEPTED_KINDS as Record<string, readonly string[] | undefined>)[kind];
  if (versions === undefined) {
    ignored.push({ document, apiVersion, kind, name });
    return;
  }
  if (!versions.includes(apiVersion)) {
    problems.push({ document, reason: `${where}${kind} ${name}: unsupported apiVersion "${apiVersion}" (expected ${versions.join(' or ')})` });
    return;
  }
  const result = normalizeObject(value);
  if (!result.ok) {
    problems.push({ document, reason: `${where}${kind}${name ? ` ${name}` : ''}: ${result.reason}` });
    return;
  }
  objects.push({ object: result.object, document });
}

function firstLine(message: string): string {
  const i = message.indexOf('\n');
  return i === -1 ? message : message.slice(0, i);
}
