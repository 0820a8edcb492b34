import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFESTS_DIR = join(REPO_ROOT, 'manifests');

/** A Kubernetes object as written in manifests/, with the file it came from. */
export interface ManifestObject {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  /** The parsed YAML; tests read it per kind. */
  readonly raw: any;
}

export interface Manifests {
  /** Every YAML file in manifests/ (sorted), kustomization.yaml included. */
  readonly files: readonly string[];
  /** Parsed kustomization.yaml. */
  readonly kustomization: { resources?: string[]; images?: { name: string; newName?: string; newTag?: string }[] };
  /** Every object of every file except kustomization.yaml, in kustomization order. */
  readonly objects: readonly ManifestObject[];
}

/** Parses manifests/ strictly: any YAML error, empty document or object without kind/name throws. */
export function loadManifests(): Manifests {
  const files = readdirSync(MANIFESTS_DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
  let kustomization: Manifests['kustomization'] | undefined;
  const objects: ManifestObject[] = [];
  for (const file of files) {
    const text = readFileSync(join(MANIFESTS_DIR, file), 'utf8');
    const docs = parseAllDocuments(text, { uniqueKeys: true });
    if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
    for (const doc of docs) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      if (doc.warnings.length > 0) throw new Error(`${file}: ${doc.warnings.map((e) => e.message).join('; ')}`);
      const raw = doc.toJS();
      if (raw === null || typeof raw !== 'object') throw new Error(`${file}: empty or non-object document`);
      if (file === 'kustomization.yaml') {
        kustomization = raw;
        continue;
      }
      if (typeof raw.apiVersion !== 'string' || typeof raw.kind !== 'string' || typeof raw.metadata?.name !== 'string') {
        throw new Error(`${file}: object without apiVersion, kind or metadata.name`);
      }
      objects.push({ file, apiVersion: raw.apiVersion, kind: raw.kind, name: raw.metadata.name, namespace: raw.metadata.namespace, raw });
    }
  }
  if (kustomization === undefined) throw new Error('manifests/kustomization.yaml is missing');
  const order = kustomization.resources ?? [];
  objects.sort((a, b) => order.indexOf(a.file) - order.indexOf(b.file));
  return { files, kustomization, objects };
}

/** The one object of that kind (and name, if given); throws if there is not exactly one. */
export function findOne(manifests: Manifests, kind: string, name?: string): ManifestObject {
  const found = manifests.objects.filter((o) => o.kind === kind && (name === undefined || o.name === name));
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
}
