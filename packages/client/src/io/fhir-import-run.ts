/**
 * FHIR import on a device: plans with the model's `planFhirImportInSlices` against the records this device
 * holds, uploads embedded files, writes the records through the records API (so every write rule,
 * authorship rule and size limit applies), and records the import in the audit trail.
 *
 * Invariants:
 * - A refused file writes nothing (RecordsIoError IMPORT_REFUSED, the model's reason and issues).
 * - An embedded file is checked against the size and hash (SHA-1) its Attachment declares: a record whose
 *   file differs is listed as not imported, with why (planImport already says so).
 * - `importFhir` takes the plan `planImport` answered (`options.plan`) only for the same input and
 *   options, under PLAN_KEPT_MS old, with the chart's records unchanged since; else it plans again.
 * - Records held are found again by source identity (the model's plan): the same data, under any file
 *   name, writes nothing; a resource changed in the source updates its record (a new version); one edited
 *   in Hale since is left as edited and listed in `conflicts`.
 * - New records are written in chunks through `records.writeAll` (each chunk checked, sealed and audited
 *   as one, and within one push frame: `importChunks`), the event loop running between chunks;
 *   `onProgress` after each, `signal` cancels: what was written stays, the rest is listed as not imported
 *   and `cancelled` says so.
 * - A write or upload failing midway removes the records this import added and answers IMPORT_FAILED (the
 *   uploaded blobs stay, unreferenced, like any file whose record was removed; updates made stay).
 * - The person gets the whole list: imported (with what each did not keep), duplicates, not imported with
 *   reasons, and read into another record.
 */
import {
  IMPORTED_KINDS,
  originKey,
  planFhirImportInSlices,
  recordContentDigest,
  type HeldImport,
  type FhirImportPlan,
  type FileRef,
  type ImportListing,
  type PendingFile,
  type PlannedRecord,
  type RecordKind,
  type RecordOf,
  type RecordOrigin,
} from '@hale/model';
import { base64urlDecode } from '@hale/crypto';
import type { WriteOp } from '../records/records';
import { nextTask } from '../core/slices';
import { RecordsIoError } from './io-error';
import type { RecordsIoDeps } from './records-io-deps';

/** Kinds an import may write (those with an importer), so the kinds compared for duplicates. */
export const IMPORTABLE_KINDS: readonly RecordKind[] = IMPORTED_KINDS;

/** Options of `importFhir` and `planImport`. */
export interface ImportOptions {
  /** What the person calls the file (its name): the source of records whose file names none. */
  readonly source?: string;
  /**
   * The chart imported into: this account's by default. A file that names no patient (`plan.noPatient`)
   * is imported only with this given: the answer to whose chart it is (else IMPORT_REFUSED NO_PATIENT).
   */
  readonly patientId?: string;
  /** `importFhir` only: called after each record written (`done` of `total`), for a progress bar. */
  readonly onProgress?: (progress: { readonly done: number; readonly total: number }) => void;
  /** `importFhir` only: cancels the import; the records written before stay and are answered. */
  readonly signal?: AbortSignal;
  /**
   * `importFhir` only: the plan `planImport` answered for this same input and options, taken as it is
   * when it is under PLAN_KEPT_MS old and nothing the chart holds changed since; planned again otherwise.
   */
  readonly plan?: FhirImportPlan;
}

/** How long a plan `planImport` answered may be taken again by `importFhir` (ms). */
export const PLAN_KEPT_MS = 10 * 60_000;

/** What the chart holds that a plan depends on, and a digest of it to see that it is unchanged. */
interface Holdings {
  readonly originKeys: Set<string>;
  readonly ids: Set<string>;
  readonly held: Map<string, HeldImport>;
  readonly hasProfile: boolean;
  readonly birthDate: string | undefined;
  readonly digest: string;
}

/** What a plan `planImport` answered was made from (see `ImportOptions.plan`). */
interface PlanMade {
  readonly input: string | Uint8Array;
  readonly patientId: string;
  readonly source: string | undefined;
  readonly holdings: string;
  readonly at: number;
}
const plansMade = new WeakMap<FhirImportPlan, PlanMade>();

/** One record an import wrote. */
export interface ImportedRecord {
  readonly id: string;
  readonly kind: RecordKind;
  readonly path: string;
  readonly resourceType: string;
  readonly notKept: readonly string[];
  readonly warnings: readonly string[];
}

/** What `importFhir` did: the records written and what was left out, and why. */
export interface ImportReport {
  readonly source: string;
  readonly imported: readonly ImportedRecord[];
  /** Imported before and changed in the source since: each is the next version of its record now. */
  readonly updated: readonly ImportedRecord[];
  /** Changed in the source and edited in Hale since: the record stays as edited, the change is listed. */
  readonly conflicts: readonly (ImportedRecord & { readonly reason: string })[];
  readonly duplicates: readonly ImportListing[];
  readonly skipped: readonly ImportListing[];
  readonly absorbed: readonly ImportListing[];
  /** The import was cancelled: `imported` is what was written before (kept), `skipped` lists the rest. */
  readonly cancelled: boolean;
}

const FILE_STREAM: Partial<Record<RecordKind, 'document' | 'lab-result'>> = {
  HealthDocument: 'document',
  LabResult: 'lab-result',
};

/** Standard base64 (FHIR base64Binary) to bytes; undefined when it is not. */
const fromBase64 = (text: string): Uint8Array | undefined => {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return undefined;
  const decoded = base64urlDecode(clean.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_'));
  return decoded.ok ? decoded.value : undefined;
};

/** What the chart of `patientId` holds that an import's plan depends on. */
async function readHoldings(deps: RecordsIoDeps, patientId: string): Promise<Holdings> {
  const originKeys = new Set<string>();
  const ids = new Set<string>();
  const held = new Map<string, HeldImport>();
  const seen: string[] = [];
  let hasProfile = false;
  let birthDate: string | undefined;
  for (const kind of IMPORTABLE_KINDS) {
    for (const stored of await deps.session.records.query(kind, { patientId })) {
      const record = stored.record as { readonly id: string; readonly origin?: RecordOrigin };
      const currentDigest = recordContentDigest(stored.record);
      ids.add(record.id);
      seen.push(`${record.id} ${currentDigest}`);
      const origin = record.origin;
      if (origin !== undefined) originKeys.add(originKey(origin));
      for (const key of origin?.identity ?? []) {
        held.set(key, {
          id: record.id,
          kind,
          digest: origin?.digest,
          recordDigest: origin?.recordDigest,
          currentDigest,
        });
      }
      if (kind === 'Profile') {
        hasProfile = true;
        const born = (stored.record as RecordOf<'Profile'>).birthDate;
        if (born !== undefined && (birthDate === undefined || born < birthDate)) birthDate = born;
      }
    }
  }
  return { originKeys, ids, held, hasProfile, birthDate, digest: seen.sort().join('\n') };
}

/** The plan for `input` against what this device holds for the chart (nothing written). */
export async function planImport(
  deps: RecordsIoDeps,
  input: string | Uint8Array,
  options: ImportOptions = {},
): Promise<FhirImportPlan> {
  const patientId = options.patientId ?? deps.session.account.accountId;
  const holdings = await readHoldings(deps, patientId);
  const now = deps.now?.() ?? Date.now();
  // In slices, the event loop running between them: a large file's plan is no long task on a page.
  const plan = await planFhirImportInSlices(
    input,
    {
      patientId,
      importedAt: new Date(now).toISOString(),
      existing: { originKeys: holdings.originKeys, ids: holdings.ids, held: holdings.held },
      hasProfile: holdings.hasProfile,
      ...(options.source === undefined ? {} : { source: options.source }),
      ...(holdings.birthDate === undefined ? {} : { birthDate: holdings.birthDate }),
    },
    nextTask,
  );
  if (!plan.ok) {
    throw new RecordsIoError('IMPORT_REFUSED', plan.error.message, {
      reason: plan.error.reason,
      issues: plan.error.issues,
    });
  }
  const checked = await withFilesChecked(plan.value);
  plansMade.set(checked, { input, patientId, source: options.source, holdings: holdings.digest, at: now });
  return checked;
}

/** `options.plan` when it was made for this input and options, recently, on what the chart holds now. */
async function keptPlan(
  deps: RecordsIoDeps,
  input: string | Uint8Array,
  options: ImportOptions,
): Promise<FhirImportPlan | undefined> {
  const made = options.plan === undefined ? undefined : plansMade.get(options.plan);
  if (made === undefined || made.input !== input || made.source !== options.source) return undefined;
  const patientId = options.patientId ?? deps.session.account.accountId;
  const age = (deps.now?.() ?? Date.now()) - made.at;
  if (made.patientId !== patientId || age < 0 || age > PLAN_KEPT_MS) return undefined;
  const holdings = await readHoldings(deps, patientId);
  return holdings.digest === made.holdings ? options.plan : undefined;
}

/** Standard base64 of bytes. */
const toBase64 = (bytes: Uint8Array): string => {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};

/** Why an embedded file is not what its Attachment declares (`size`, `hash`), or undefined. */
const fileMismatch = async (file: PendingFile): Promise<string | undefined> => {
  const bytes = fromBase64(file.data);
  if (bytes === undefined) return `${file.fileName}: the embedded file is not base64`;
  const { size, sha1 } = file.declared ?? {};
  if (size !== undefined && size !== bytes.length)
    return `${file.fileName}: the file holds ${bytes.length} bytes, its record says ${size}: it may be damaged or cut short`;
  if (sha1 !== undefined) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-1', new Uint8Array(bytes)));
    if (toBase64(digest) !== sha1.replace(/\s+/g, ''))
      return `${file.fileName}: the file's hash is not the one its record declares: it may be damaged or altered`;
  }
  return undefined;
};

/** The plan with each record whose embedded file is not what it declares moved to not imported. */
const withFilesChecked = async (plan: FhirImportPlan): Promise<FhirImportPlan> => {
  const bad = new Map<string, string>();
  for (const planned of [...plan.records, ...plan.updates]) {
    for (const file of planned.files) {
      const why = await fileMismatch(file);
      if (why !== undefined && !bad.has(planned.id)) bad.set(planned.id, why);
    }
  }
  if (bad.size === 0) return plan;
  const listing = (p: PlannedRecord): ImportListing => ({
    path: p.path,
    resourceType: p.origin.resourceType,
    originalId: p.origin.originalId,
    reason: `not imported: ${bad.get(p.id)}`,
  });
  return {
    ...plan,
    records: plan.records.filter((p) => !bad.has(p.id)),
    updates: plan.updates.filter((p) => !bad.has(p.id)),
    skipped: [
      ...plan.skipped,
      ...[...plan.records, ...plan.updates].filter((p) => bad.has(p.id)).map(listing),
    ],
  };
};

/** Imports `input` into the chart (see the header); answers what was imported and what was not. */
export async function importFhir(
  deps: RecordsIoDeps,
  input: string | Uint8Array,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const patientId = options.patientId ?? deps.session.account.accountId;
  const plan = (await keptPlan(deps, input, options)) ?? (await planImport(deps, input, options));
  if (plan.noPatient && options.patientId === undefined) {
    throw new RecordsIoError(
      'IMPORT_REFUSED',
      'the file names no patient: say whose chart it goes into (patientId), then import it',
      { reason: 'NO_PATIENT' },
    );
  }
  const { records, audit } = deps.session;
  const written: string[] = [];
  const updated: string[] = [];
  const byId = new Map([...plan.records, ...plan.updates].map((p) => [p.id, p]));
  const total = plan.records.length + plan.updates.length;
  const progress = (): void => {
    try {
      options.onProgress?.({ done: written.length + updated.length, total });
    } catch {
      // A listener's failure is not the import's.
    }
  };
  // Edited in Hale since it was imported: the record stays as edited, the source's version is listed.
  const conflicts = plan.updates.filter((u) => u.editedInHale);
  let cancelled = false;
  try {
    const adds: WriteOp[] = [];
    for (const planned of plan.records) {
      if (options.signal?.aborted === true) break;
      adds.push({
        op: 'add',
        kind: planned.kind,
        input: { ...planned.input, id: planned.id, ...(await uploaded(deps, planned, patientId)) },
        options: { patientId },
      } as WriteOp);
    }
    const updates: WriteOp[] = [];
    for (const planned of plan.updates.filter((u) => !u.editedInHale)) {
      if (options.signal?.aborted === true) break;
      const held = await records.get(planned.id);
      if (held === null) continue;
      // The source's new content replaces what the import wrote before: fields it no longer has go.
      const patch: Record<string, unknown> = {
        ...planned.input,
        ...(await uploaded(deps, planned, patientId)),
      };
      for (const key of Object.keys(held.record))
        if (!(key in patch) && !MANAGED.has(key)) patch[key] = undefined;
      updates.push({
        op: 'update',
        kind: planned.kind,
        id: planned.id,
        patch,
        ...(VERSIONED.has(planned.kind) ? { options: { reason: 'imported again: the source changed' } } : {}),
      });
    }
    // In chunks, each checked and written as one (`writeAll`); the event loop runs between them.
    for (const chunk of importChunks(adds)) {
      if (options.signal?.aborted === true) break;
      for (const record of await records.writeAll(chunk)) written.push(record.id);
      progress();
      await nextTask();
    }
    // Each update on its own: a record edited meanwhile is refused alone (RECORD_CHANGED), not a chunk.
    for (const op of updates) {
      if (options.signal?.aborted === true || op.op !== 'update') break;
      await records.update(op.kind, op.id, op.patch, op.options ?? {});
      updated.push(op.id);
      progress();
    }
    cancelled = written.length + updated.length < total - conflicts.length;
  } catch (error) {
    for (const id of [...written].reverse()) await records.remove(id).catch(() => undefined);
    const why = error instanceof Error ? error.message : String(error);
    const kept = updated.length === 0 ? '' : ` (${updated.length} record(s) updated before stay updated)`;
    throw new RecordsIoError('IMPORT_FAILED', `the import stopped and was undone${kept}: ${why}`);
  }
  const listed = (id: string): ImportedRecord => {
    const planned = byId.get(id) as PlannedRecord;
    return {
      id,
      kind: planned.kind,
      path: planned.path,
      resourceType: planned.origin.resourceType,
      notKept: planned.notKept,
      warnings: planned.warnings,
    };
  };
  const imported = written.map(listed);
  const done = new Set([...written, ...updated, ...conflicts.map((c) => c.id)]);
  const notWritten = [...plan.records, ...plan.updates]
    .filter((p) => !done.has(p.id))
    .map((p) => ({
      path: p.path,
      resourceType: p.origin.resourceType,
      originalId: p.origin.originalId,
      reason: 'not imported: the import was cancelled',
    }));
  await audit
    .append(deps.session.account.accountId, {
      action: 'import',
      summary: `imported ${imported.length} record(s), updated ${updated.length}, from a FHIR file (${plan.source})`,
      patientId,
      count: imported.length + updated.length,
    })
    .catch(() => undefined);
  return {
    source: plan.source,
    imported,
    updated: updated.map(listed),
    conflicts: conflicts.map((c) => ({
      ...listed(c.id),
      reason: 'changed in the source and edited in Hale since: kept as edited',
    })),
    duplicates: plan.duplicates,
    skipped: [...plan.skipped, ...notWritten],
    absorbed: plan.absorbed,
    cancelled,
  };
}

/** Records per `writeAll` of an import at most (fewer writes, saves and pushes; cancel waits one chunk). */
export const IMPORT_CHUNK = 200;
/**
 * Characters of records' JSON per `writeAll` at most: a chunk is one group the server stores all or none,
 * and a group goes out in one push frame (MAX_BATCH_BYTES, 4 MiB of sealed, base64 text).
 */
export const IMPORT_CHUNK_CHARS = 1_500_000;

/** `adds` in chunks of at most IMPORT_CHUNK records and IMPORT_CHUNK_CHARS of JSON (a larger one alone). */
export const importChunks = (
  adds: readonly WriteOp[],
  most = IMPORT_CHUNK,
  chars = IMPORT_CHUNK_CHARS,
): WriteOp[][] => {
  const chunks: WriteOp[][] = [];
  let chunk: WriteOp[] = [];
  let size = 0;
  for (const op of adds) {
    const length = op.op === 'add' ? JSON.stringify(op.input).length : 0;
    if (chunk.length > 0 && (chunk.length >= most || size + length > chars)) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(op);
    size += length;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
};
/** Fields the records API keeps itself: an update from the source neither sets nor clears them. */
const MANAGED = new Set(['id', 'patientId', 'createdAt', 'updatedAt', 'version', 'versions', 'provenance']);
const VERSIONED: ReadonlySet<RecordKind> = new Set(['LabResult', 'HealthDocument', 'TreatmentPlan']);

/** The embedded files of a planned record, uploaded: its `file` and `attachments`. */
const uploaded = async (
  deps: RecordsIoDeps,
  planned: PlannedRecord,
  patientId: string,
): Promise<{ file?: FileRef; attachments?: FileRef[] }> => {
  const refs: { file?: FileRef; attachments?: FileRef[] } = {};
  for (const pending of planned.files) {
    const ref = await upload(deps, planned.kind, pending, patientId);
    if (pending.field === 'file') refs.file = ref;
    else refs.attachments = [...(refs.attachments ?? []), ref];
  }
  return refs;
};

const upload = async (
  deps: RecordsIoDeps,
  kind: RecordKind,
  pending: PendingFile,
  patientId: string,
): Promise<FileRef> => {
  const type = FILE_STREAM[kind];
  const bytes = fromBase64(pending.data);
  if (type === undefined || bytes === undefined) {
    throw new RecordsIoError('IMPORT_FAILED', `${pending.fileName}: the embedded file is not base64`);
  }
  return deps.session.files.put({
    patientId,
    type,
    bytes,
    fileName: pending.fileName.slice(0, 255),
    mediaType: pending.mediaType,
  });
};
