/**
 * FHIR import on a device: plans with the model's `planFhirImport` against the records this device holds,
 * uploads embedded files, writes the records through the records API (so every write rule, authorship
 * rule and size limit applies), and records the import in the audit trail.
 *
 * Invariants:
 * - A refused file writes nothing (RecordsIoError IMPORT_REFUSED, the model's reason and issues).
 * - Duplicates are found by origin key and Hale id among the records held for the chart: importing the
 *   same file twice writes nothing the second time.
 * - A write or upload failing midway removes the records this import wrote and answers IMPORT_FAILED (the
 *   uploaded blobs stay, unreferenced, like any file whose record was removed).
 * - The person gets the whole list: imported (with what each did not keep), duplicates, not imported with
 *   reasons, and read into another record.
 */
import {
  IMPORTED_KINDS,
  originKey,
  planFhirImport,
  type FhirImportPlan,
  type FileRef,
  type ImportListing,
  type PendingFile,
  type RecordKind,
  type RecordOf,
} from '@hale/model';
import { base64urlDecode } from '@hale/crypto';
import type { RecordInput } from '../records/records';
import { RecordsIoError } from './io-error';
import type { RecordsIoDeps } from './records-io-deps';

/** Kinds an import may write (those with an importer), so the kinds compared for duplicates. */
export const IMPORTABLE_KINDS: readonly RecordKind[] = IMPORTED_KINDS;

export interface ImportOptions {
  /** What the person calls the file (its name): the source of records whose file names none. */
  readonly source?: string;
  /** The chart imported into: this account's by default. */
  readonly patientId?: string;
  /** `importFhir` only: called after each record written (`done` of `total`), for a progress bar. */
  readonly onProgress?: (progress: { readonly done: number; readonly total: number }) => void;
}

export interface ImportedRecord {
  readonly id: string;
  readonly kind: RecordKind;
  readonly path: string;
  readonly resourceType: string;
  readonly notKept: readonly string[];
  readonly warnings: readonly string[];
}

export interface ImportReport {
  readonly source: string;
  readonly imported: readonly ImportedRecord[];
  readonly duplicates: readonly ImportListing[];
  readonly skipped: readonly ImportListing[];
  readonly absorbed: readonly ImportListing[];
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

/** The plan for `input` against what this device holds for the chart (nothing written). */
export async function planImport(
  deps: RecordsIoDeps,
  input: string | Uint8Array,
  options: ImportOptions = {},
): Promise<FhirImportPlan> {
  const patientId = options.patientId ?? deps.session.account.accountId;
  const originKeys = new Set<string>();
  const ids = new Set<string>();
  let hasProfile = false;
  let birthDate: string | undefined;
  for (const kind of IMPORTABLE_KINDS) {
    for (const stored of await deps.session.records.query(kind, { patientId })) {
      const record = stored.record as { id: string; origin?: Parameters<typeof originKey>[0] };
      ids.add(record.id);
      if (record.origin !== undefined) originKeys.add(originKey(record.origin));
      if (kind === 'Profile') {
        hasProfile = true;
        const born = (stored.record as RecordOf<'Profile'>).birthDate;
        if (born !== undefined && (birthDate === undefined || born < birthDate)) birthDate = born;
      }
    }
  }
  const now = deps.now?.() ?? Date.now();
  const plan = planFhirImport(input, {
    patientId,
    importedAt: new Date(now).toISOString(),
    existing: { originKeys, ids },
    hasProfile,
    ...(options.source === undefined ? {} : { source: options.source }),
    ...(birthDate === undefined ? {} : { birthDate }),
  });
  if (!plan.ok) {
    throw new RecordsIoError('IMPORT_REFUSED', plan.error.message, {
      reason: plan.error.reason,
      issues: plan.error.issues,
    });
  }
  return plan.value;
}

/** Imports `input` into the chart (see the header); answers what was imported and what was not. */
export async function importFhir(
  deps: RecordsIoDeps,
  input: string | Uint8Array,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const patientId = options.patientId ?? deps.session.account.accountId;
  const plan = await planImport(deps, input, options);
  const { records, audit } = deps.session;
  const written: string[] = [];
  const imported: ImportedRecord[] = [];
  try {
    for (const planned of plan.records) {
      const refs: { file?: FileRef; attachments: FileRef[] } = { attachments: [] };
      for (const pending of planned.files) {
        const ref = await upload(deps, planned.kind, pending, patientId);
        if (pending.field === 'file') refs.file = ref;
        else refs.attachments.push(ref);
      }
      const recordInput = {
        ...planned.input,
        id: planned.id,
        ...(refs.file === undefined ? {} : { file: refs.file }),
        ...(refs.attachments.length === 0 ? {} : { attachments: refs.attachments }),
      } as unknown as RecordInput<typeof planned.kind>;
      await records.add(planned.kind, recordInput, { patientId });
      written.push(planned.id);
      imported.push({
        id: planned.id,
        kind: planned.kind,
        path: planned.path,
        resourceType: planned.origin.resourceType,
        notKept: planned.notKept,
        warnings: planned.warnings,
      });
      try {
        options.onProgress?.({ done: imported.length, total: plan.records.length });
      } catch {
        // A listener's failure is not the import's.
      }
    }
  } catch (error) {
    for (const id of written.reverse()) await records.remove(id).catch(() => undefined);
    const why = error instanceof Error ? error.message : String(error);
    throw new RecordsIoError('IMPORT_FAILED', `the import stopped and was undone: ${why}`);
  }
  await audit
    .append(deps.session.account.accountId, {
      action: 'import',
      summary: `imported ${imported.length} record(s) from a FHIR file (${plan.source})`,
      patientId,
      count: imported.length,
    })
    .catch(() => undefined);
  return {
    source: plan.source,
    imported,
    duplicates: plan.duplicates,
    skipped: plan.skipped,
    absorbed: plan.absorbed,
  };
}

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
