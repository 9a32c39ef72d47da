/**
 * The export in the forms a person chooses, all built from the signed export (`session.exportFhir`):
 *
 * | option | what it gives |
 * |---|---|
 * | `attachments: 'link'` (default) | the signed Bundle; files stay `hale-blob:` links only this account's devices open |
 * | `attachments: 'embed'` | the signed Bundle with every file's bytes in `Attachment.data` (base64): one self-contained file |
 * | `attachments: 'zip'` | a zip (fflate): `bundle.json` (signed; each Attachment.url `files/{blobId}-{name}`) and the files beside it |
 * | `format: 'ndjson'` | FHIR Bulk Data NDJSON: the current version of each resource, one per line (no signature: NDJSON has no place for one; the Bundle forms are the signed ones) |
 *
 * Every Bundle form has standard references (fhir-references.ts: RESTful fullUrls, relative references) and
 * its Practitioners filled from the signed directory profile (practitioners.ts) where the provider
 * published one; the signature covers the Bundle as written, files by their sha256 (Hale extension).
 * Failure modes: what `exportFhir` and `files.get` throw (a file this device cannot fetch, offline).
 */
import { zipSync, strToU8 } from 'fflate';
import {
  standardFhirBundle,
  type FhirBundle,
  type FhirBundleEntry,
  type FhirJson,
  type FhirJsonObject,
  type FileRef,
} from '@hale/model';
import type { SignedFhirBundle } from './signed-fhir-export';
import type { RecordsIoDeps } from './records-io-deps';
import { withPractitioners } from './practitioners';

/** Options of `exportRecords`: whose chart and how attachments are carried. */
export interface ExportOptions {
  readonly patientId?: string;
  readonly attachments?: 'link' | 'embed' | 'zip';
  readonly format?: 'bundle' | 'ndjson';
}

/** What `exportRecords` answers: a signed Bundle, or a zip of it with its attachments. */
export type ExportResult =
  | { readonly form: 'bundle'; readonly bundle: SignedFhirBundle }
  | { readonly form: 'zip'; readonly zip: Uint8Array; readonly bundle: SignedFhirBundle }
  | { readonly form: 'ndjson'; readonly ndjson: string };

const FILE_KINDS = [
  ['HealthDocument', 'document'],
  ['LabResult', 'lab-result'],
  ['Message', 'message'],
] as const;

const toBase64 = (bytes: Uint8Array): string => {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
};

const isObject = (value: FhirJson | undefined): value is FhirJsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `value` with every object that `change` answers for replaced (depth first). */
const mapObjects = (value: FhirJson, change: (o: FhirJsonObject) => FhirJsonObject | undefined): FhirJson => {
  if (Array.isArray(value)) return (value as readonly FhirJson[]).map((v) => mapObjects(v, change));
  if (!isObject(value)) return value;
  const out: Record<string, FhirJson> = {};
  for (const [key, child] of Object.entries(value)) out[key] = mapObjects(child, change);
  return change(out) ?? out;
};

/** The FileRefs of the chart's records by blob id, with the stream type their bytes are read from. */
const filesOf = async (deps: RecordsIoDeps, patientId: string) => {
  const found = new Map<string, { ref: FileRef; type: (typeof FILE_KINDS)[number][1] }>();
  for (const [kind, type] of FILE_KINDS) {
    for (const stored of await deps.session.records.query(kind, { patientId })) {
      const r = stored.record as { file?: FileRef; attachments?: FileRef[]; versions?: { file?: FileRef }[] };
      for (const ref of [r.file, ...(r.attachments ?? []), ...(r.versions ?? []).map((v) => v.file)]) {
        if (ref !== undefined) found.set(ref.blobId, { ref, type });
      }
    }
  }
  return found;
};

const safeName = (name: string): string => name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);

/** The export in the form asked for (see the header). */
export async function exportRecords(deps: RecordsIoDeps, options: ExportOptions = {}): Promise<ExportResult> {
  const patientId = options.patientId ?? deps.session.account.accountId;
  const mode = options.format === 'ndjson' ? 'link' : (options.attachments ?? 'link');
  const zipped: Record<string, Uint8Array> = {};
  const prepare = async (internal: FhirBundle): Promise<FhirBundle> => {
    let bundle = await withPractitioners(deps.providerProfile, standardFhirBundle(internal));
    if (mode === 'link') return bundle;
    const files = await filesOf(deps, patientId);
    const bytes = new Map<string, Uint8Array>();
    for (const [blobId, { ref, type }] of files) {
      if (JSON.stringify(bundle).includes(`hale-blob:${blobId}`)) {
        bytes.set(blobId, await deps.session.files.get(ref, { patientId, type }));
      }
    }
    bundle = mapObjects(bundle, (o) => {
      const url = o['url'];
      if (typeof url !== 'string' || !url.startsWith('hale-blob:')) return undefined;
      const blobId = url.slice('hale-blob:'.length);
      const data = bytes.get(blobId);
      if (data === undefined) return undefined;
      if (mode === 'embed') {
        const { url: _link, ...rest } = o;
        return { ...rest, data: toBase64(data) };
      }
      const name = `files/${blobId}-${safeName(files.get(blobId)?.ref.fileName ?? 'file')}`;
      zipped[name] = data;
      return { ...o, url: name };
    }) as FhirBundle;
    return bundle;
  };
  const bundle = await deps.session.exportFhir(patientId, prepare);
  if (options.format === 'ndjson') {
    const latest = new Map<string, FhirBundleEntry>();
    const version = (e: FhirBundleEntry) =>
      Number((e.resource['meta'] as FhirJsonObject | undefined)?.['versionId'] ?? 0);
    for (const e of bundle.entry) {
      const held = latest.get(e.fullUrl);
      if (held === undefined || version(e) > version(held)) latest.set(e.fullUrl, e);
    }
    return {
      form: 'ndjson',
      ndjson: [...latest.values()].map((e) => JSON.stringify(e.resource)).join('\n') + '\n',
    };
  }
  if (mode === 'zip') {
    const zip = zipSync({ 'bundle.json': strToU8(JSON.stringify(bundle, null, 2)), ...zipped });
    return { form: 'zip', zip, bundle };
  }
  return { form: 'bundle', bundle };
}
