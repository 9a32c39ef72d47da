/*
 * FHIR export: the bundle (toFhirBundle): records checked, mapped, conflicts and references resolved, entries sorted.
 * The export's invariants and failure modes: fhir.ts.
 */
import type { ValidationIssue } from './errors';
import { isIsoDateTime } from './formats';
import { isAccountId } from './ids';
import { compareInstantTimes, compareInstants } from './instants';
import type { NoteSignature, Profile } from './record-schemas';
import { RECORD_KINDS, isRecordKind, type RecordKind } from './registry';
import { sameJson } from './transitions';
import { validateRecord } from './validate';
import { originOf } from './fhir-kinds';
import { recordContentDigest } from './fhir-import-identity';
import { withSource } from './fhir-source';
import {
  V3_DATA_OPERATION,
  PROVENANCE_PARTICIPANT,
  type DraftObject,
  compact,
  makeResource,
  isJsonObject,
  fhirDateTime,
  coding,
  haleIdentifier,
  versionRef,
  extension,
  meta,
  base64,
  type PersonType,
  type Exporter,
  HALE_ACCOUNT_SYSTEM,
  HALE_DEVICE_SYSTEM,
  HALE_CONFLICT_TAG,
  fhirId,
  fhirFullUrl,
} from './fhir-draft';
import { type NoteEntry, type NoteGroup, concurrentKey, exportNote, signedKey } from './fhir-export-notes';
import type { ProfileRole } from './fhir-export-records';
import { SYNC_SERVER_DEVICE_ID } from './fhir-mappings';
import { caregiverAccounts, primaryTarget, providerAccounts } from './fhir-export-targets';
import type { ExportContext } from './kind-description';
import { STREAM_RESOURCE_TYPES, kindDescription } from './kind-descriptions';
import { HISTORY_RE, isRecordObject } from './fhir-shape';
import {
  type FhirBundle,
  type FhirBundleEntry,
  FhirExportError,
  type FhirExportErrorCode,
  type FhirExportErrorDetail,
  type FhirExportInput,
  type FhirExportItem,
  type FhirJson,
  type FhirJsonObject,
  type FhirResource,
} from './fhir-types';

// ------------------------------------------------------------------------------------------- bundle

const fail = (detail: FhirExportErrorDetail): never => {
  throw new FhirExportError(detail);
};

const versionOf = (resource: FhirResource): number | undefined => {
  const metaValue = resource.meta;
  if (metaValue === undefined || !isJsonObject(metaValue)) return undefined;
  const versionId = metaValue.versionId;
  return typeof versionId === 'string' ? Number(versionId) : undefined;
};

/** A conflict side as checked: another version of the record, as an export item, or a deletion. */
type CheckedSide = FhirExportItem | { readonly deletion: { readonly by: string; readonly at: string } };

/**
 * The item's conflict sides, each checked: refuses one that is no other version of the item's record
 * (INVALID_RECORD for content its schema refuses, INVALID_INPUT for another record or a malformed
 * deletion, PATIENT_MISMATCH).
 */
const checkConflict = (item: FhirExportItem): CheckedSide[] => {
  const { kind, record } = item;
  // Typed out, so a call ends the branch for the checker too.
  const refuse: (code: FhirExportErrorCode, message: string, issues?: readonly ValidationIssue[]) => never = (
    code,
    message,
    issues,
  ) => fail({ code, message, kind, recordId: record.id, ...(issues === undefined ? {} : { issues }) });
  const sides: unknown = item.conflict?.sides;
  if (!Array.isArray(sides))
    return refuse('INVALID_INPUT', `conflict of ${kind} ${record.id} lists no sides`);
  const checkedSides: CheckedSide[] = [];
  for (const side of sides) {
    if (isRecordObject(side) && 'record' in side) {
      const sideItem = { kind, record: side.record };
      if (!isExportItem(sideItem)) {
        const checked = validateRecord(kind, side.record);
        const error = checked.ok ? undefined : checked.error;
        return refuse('INVALID_RECORD', `a conflict side: ${error?.message ?? 'invalid'}`, error?.issues);
      }
      if (sideItem.record.id !== record.id) {
        return refuse('INVALID_INPUT', `a conflict side of ${kind} ${record.id} is another record`);
      }
      if (patientOf(sideItem.record) !== patientOf(record)) {
        return refuse(
          'PATIENT_MISMATCH',
          `a conflict side of ${kind} ${record.id} belongs to another patient`,
        );
      }
      checkedSides.push(sideItem);
      continue;
    }
    const deletion = isRecordObject(side) ? side.deletion : undefined;
    if (
      !isRecordObject(deletion) ||
      !isAccountId(deletion.by) ||
      typeof deletion.at !== 'string' ||
      !isIsoDateTime(deletion.at)
    ) {
      refuse(
        'INVALID_INPUT',
        `a conflict side of ${kind} ${record.id} is neither a record nor a deletion (account id, date-time)`,
      );
    }
    checkedSides.push({ deletion: { by: deletion.by, at: deletion.at } });
  }
  return checkedSides;
};

const patientOf = (record: FhirExportItem['record']): string | undefined =>
  'patientId' in record ? record.patientId : undefined;

/** Suffix of the resource ids a conflict side exports under (`{id}-conflict-{n}`, n from 1). */
const conflictSuffix = (n: number): string => `-conflict-${n}`;

const conflictExt = (reference: string) =>
  extension('conflicting-version', { valueReference: { reference } });

/** `resource` tagged as in conflict, with `links` (references) to the other sides. */
const markedInConflict = (resource: FhirResource, links: readonly string[]): FhirResource => {
  const metaValue = resource.meta !== undefined && isJsonObject(resource.meta) ? resource.meta : {};
  const listed = (value: FhirJson | undefined): readonly FhirJson[] =>
    value !== undefined && isJsonArray(value) ? value : [];
  const tags = listed(metaValue.tag);
  const extensions = listed(resource.extension);
  const added = links.map((link) => compact(conflictExt(link))).filter((e) => e !== undefined);
  // Once, however many sides contest the resource.
  const tagged = tags.some(
    (tag) =>
      isJsonObject(tag) && tag.system === HALE_CONFLICT_TAG.system && tag.code === HALE_CONFLICT_TAG.code,
  );
  return {
    ...resource,
    meta: { ...metaValue, tag: tagged ? tags : [...tags, { ...HALE_CONFLICT_TAG }] },
    ...(extensions.length + added.length > 0 ? { extension: [...extensions, ...added] } : {}),
  };
};

/** `resource` without `meta` (when it was written, its tags): what it says. */
const withoutMeta = (resource: FhirResource): FhirJsonObject =>
  Object.fromEntries(Object.entries(resource).filter(([key]) => key !== 'meta'));

/** `node` with every `reference` in it passed through `rewrite`. */
const withReferencesIn = (
  node: FhirJsonObject,
  rewrite: (reference: string) => string,
): Record<string, FhirJson> => {
  const out: Record<string, FhirJson> = {};
  for (const [key, child] of Object.entries(node)) {
    out[key] = key === 'reference' && typeof child === 'string' ? rewrite(child) : rewritten(child, rewrite);
  }
  return out;
};

const rewritten = (value: FhirJson, rewrite: (reference: string) => string): FhirJson =>
  isJsonArray(value)
    ? value.map((item) => rewritten(item, rewrite))
    : typeof value === 'object'
      ? withReferencesIn(value, rewrite)
      : value;

const isJsonArray = (value: FhirJson): value is readonly FhirJson[] => Array.isArray(value);

/** Whether `record` is a valid record of `kind`: `{ kind, record }` is then an export item. */
const isExportItem = (candidate: { kind: RecordKind; record: unknown }): candidate is FhirExportItem =>
  validateRecord(candidate.kind, candidate.record).ok;

/** The version a record's main resource exports under (`meta.versionId`), if it has one. */
const currentVersionOf = (item: FhirExportItem): number | undefined => {
  switch (item.kind) {
    case 'HealthDocument':
    case 'LabResult':
    case 'TreatmentPlan':
      return item.record.version;
    case 'MedicalNote':
      return item.record.currentVersionNumber;
    case 'NoteVersion':
      return item.record.versionNumber;
    default:
      return undefined;
  }
};

/**
 * Maps a patient's records onto one FHIR R4 Bundle of type `collection` (see docs/data-model.md).
 * Throws FhirExportError (INVALID_INPUT, INVALID_RECORD, PATIENT_MISMATCH, DUPLICATE_RESOURCE).
 */
export const toFhirBundle = (input: FhirExportInput): FhirBundle => {
  const { patientId, records, generatedAt } = input;
  if (!isAccountId(patientId)) {
    fail({ code: 'INVALID_INPUT', message: `patientId is not an account id: ${JSON.stringify(patientId)}` });
  }
  if (typeof generatedAt !== 'string' || !isIsoDateTime(generatedAt)) {
    fail({ code: 'INVALID_INPUT', message: 'generatedAt must be an ISO-8601 date-time with a time zone' });
  }

  const listed = new Set<string>();
  /** Each item's conflict sides, as checked (`checkConflict`). */
  const conflictSides = new Map<FhirExportItem, CheckedSide[]>();
  for (const item of records) {
    if (!isRecordKind(item.kind)) {
      fail({ code: 'INVALID_INPUT', message: `unknown record kind ${JSON.stringify(String(item.kind))}` });
    }
    const checked = validateRecord(item.kind, item.record);
    if (!checked.ok) {
      fail({
        code: 'INVALID_RECORD',
        message: checked.error.message,
        kind: item.kind,
        recordId: item.record.id,
        issues: checked.error.issues,
      });
    }
    // One record twice is a caller's mistake, not something sync produces (a record id names one record).
    const key = `${item.kind}/${item.record.id}`;
    if (listed.has(key)) duplicate(item.kind, item.record.id);
    listed.add(key);
    if (item.kind !== 'ProviderProfile' && item.record.patientId !== patientId) {
      fail({
        code: 'PATIENT_MISMATCH',
        message: `${item.kind} ${item.record.id} belongs to another patient`,
        kind: item.kind,
        recordId: item.record.id,
      });
    }
    if (item.signature !== undefined && !(item.signature.length > 0 && base64.test(item.signature))) {
      fail({
        code: 'INVALID_INPUT',
        message: `signature of ${item.kind} ${item.record.id} is not standard base64`,
        kind: item.kind,
        recordId: item.record.id,
      });
    }
    if (item.conflict !== undefined) conflictSides.set(item, checkConflict(item));
  }

  // People: the patient, then anyone in a provider-only field, then caregivers; the rest default to
  // Practitioner (providers are who a patient's records name besides themselves).
  const providers = new Set<string>();
  const caregivers = new Set<string>();
  for (const item of records) {
    for (const account of providerAccounts(item)) if (account !== undefined) providers.add(account);
    for (const account of caregiverAccounts(item)) if (account !== undefined) caregivers.add(account);
  }
  const personType = (accountId: string): PersonType =>
    accountId === patientId
      ? 'Patient'
      : caregivers.has(accountId) && !providers.has(accountId)
        ? 'RelatedPerson'
        : 'Practitioner';

  const present = new Map<string, FhirExportItem>();
  for (const item of records) present.set(`${item.kind}/${item.record.id}`, item);

  // Sync can legitimately leave two records claiming one place: a Profile created offline on two devices,
  // two amendments numbered alike. One keeps the place (see `preferred`), the others export beside it.
  const signedVersionIds = new Set<string>();
  for (const item of records) {
    if (item.kind === 'NoteSignature' && item.record.status === 'signed') {
      signedVersionIds.add(item.record.noteVersionId);
    }
  }
  const profiles = records
    .flatMap((item) => (item.kind === 'Profile' ? [item.record] : []))
    .sort(preferred(new Set()));
  const chosenProfileId = profiles[0]?.id;
  const patientUrl = fhirFullUrl('Patient', fhirId(patientId));
  const profileRole = (profile: Profile): ProfileRole =>
    profile.id === chosenProfileId
      ? { primary: true, seeAlso: profiles.slice(1).map((other) => fhirFullUrl('Patient', other.id)) }
      : { primary: false, seeAlso: [patientUrl] };

  const notes = new Map<string, NoteGroup>();
  const noteGroup = (noteId: string): NoteGroup => {
    const existing = notes.get(noteId);
    if (existing !== undefined) return existing;
    const created: NoteGroup = { versions: new Map(), concurrent: new Map() };
    notes.set(noteId, created);
    return created;
  };
  const numbered = new Map<NoteGroup, Map<number, NoteEntry[]>>();
  for (const item of records) {
    if (item.kind === 'MedicalNote') {
      const group = noteGroup(item.record.id);
      if (group.note !== undefined) duplicate('MedicalNote', item.record.id);
      group.note = { record: item.record, signature: item.signature };
    } else if (item.kind === 'NoteVersion') {
      const group = noteGroup(item.record.noteId);
      const byNumber = numbered.get(group) ?? new Map<number, NoteEntry[]>();
      numbered.set(group, byNumber);
      const entry = { record: item.record, signature: item.signature };
      byNumber.set(item.record.versionNumber, [...(byNumber.get(item.record.versionNumber) ?? []), entry]);
    }
  }
  const concurrentIds = new Set<string>();
  const preferredVersion = preferred(signedVersionIds);
  for (const [group, byNumber] of numbered) {
    for (const [number, entries] of byNumber) {
      const [chosen, ...others] = entries.sort((a, b) => preferredVersion(a.record, b.record));
      if (chosen !== undefined) group.versions.set(number, chosen);
      if (others.length > 0) group.concurrent.set(number, others);
      for (const other of others) concurrentIds.add(other.record.id);
    }
  }
  const signedBy = new Map<string, NoteSignature[]>();
  for (const item of records) {
    if (item.kind === 'NoteSignature' && item.record.status === 'signed') {
      const version = item.record.signedVersionNumber;
      const key = concurrentIds.has(item.record.noteVersionId)
        ? concurrentKey(item.record.noteVersionId)
        : version === undefined
          ? undefined
          : signedKey(item.record.noteId, version);
      if (key !== undefined) signedBy.set(key, [...(signedBy.get(key) ?? []), item.record]);
    }
  }
  for (const list of signedBy.values()) {
    // By signing time as instants (signers' devices write their own offsets and fraction digits), then
    // the text and the id, so every device lists the attesters alike.
    list.sort((a, b) => compareInstants(a.signedAt ?? '', b.signedAt ?? '') || compareStrings(a.id, b.id));
  }

  const entries = new Map<string, FhirBundleEntry>();
  const people = new Set<string>();
  const devices = new Set<string>();
  const patientRef = { reference: fhirFullUrl('Patient', fhirId(patientId)) };

  /**
   * The fullUrl of the resource `item` mainly exports as; `chosen`: the Profile chosen as the export's
   * Patient (any other Profile is a Patient of its own id).
   */
  const mainUrlOf = (item: FhirExportItem, chosen: boolean): string => {
    if (item.kind === 'Profile' && !chosen) return fhirFullUrl('Patient', item.record.id);
    if (item.kind === 'NoteVersion' && concurrentIds.has(item.record.id)) {
      return fhirFullUrl('Composition', item.record.id);
    }
    const target = primaryTarget(item);
    return fhirFullUrl(target.type, target.id);
  };
  /** Key of a bundle entry: its fullUrl and version (two records must not export to the same). */
  const entryKey = (fullUrl: string, version: number | undefined) => `${fullUrl}#${version ?? ''}`;

  const exporter: Exporter = {
    patient: patientRef,
    person: (accountId, display) => {
      people.add(accountId);
      return { reference: fhirFullUrl(personType(accountId), fhirId(accountId)), display };
    },
    device: (deviceId) => {
      devices.add(deviceId);
      return { reference: fhirFullUrl('Device', fhirId(deviceId)) };
    },
    recordRef: (kind, id) => {
      const item = present.get(`${kind}/${id}`);
      if (item === undefined) {
        return {
          type: RECORD_KINDS[kind].fhirResource,
          identifier: haleIdentifier(id),
          display: `${kind} ${id}`,
        };
      }
      return { reference: mainUrlOf(item, item.kind === 'Profile' && item.record.id === chosenProfileId) };
    },
    isRecordKind,
    add: (resource) => {
      const fullUrl = fhirFullUrl(resource.resourceType, resource.id);
      const key = entryKey(fullUrl, versionOf(resource));
      if (entries.has(key)) {
        fail({
          code: 'DUPLICATE_RESOURCE',
          message: `two records export to ${fullUrl}${versionOf(resource) === undefined ? '' : ` version ${versionOf(resource)}`}`,
        });
      }
      entries.set(key, { fullUrl, resource });
    },
  };

  const noteTarget = (noteId: string, version: number | undefined, noteVersionId: string): DraftObject => {
    if (concurrentIds.has(noteVersionId)) return { reference: fhirFullUrl('Composition', noteVersionId) };
    const group = notes.get(noteId);
    if (group === undefined) {
      return {
        type: 'Composition',
        identifier: haleIdentifier(noteId),
        display: version === undefined ? `MedicalNote ${noteId}` : `MedicalNote ${noteId} version ${version}`,
      };
    }
    if (version === undefined) return { reference: fhirFullUrl('Composition', noteId) };
    // A version of the note may be signed or asked for without being exported (no copy of it here).
    const exported = group.versions.has(version) || group.note?.record.currentVersionNumber === version;
    return versionRef('Composition', noteId, 'MedicalNote', version, exported);
  };
  const versionNumberOf = (noteVersionId: string): number | undefined => {
    const item = present.get(`NoteVersion/${noteVersionId}`);
    return item?.kind === 'NoteVersion' ? item.record.versionNumber : undefined;
  };
  // A proof document points back at the immunizations it proves (R4 Immunization cannot point at it).
  const provenBy = new Map<string, DraftObject[]>();
  for (const item of records) {
    if (item.kind === 'Immunization' && item.record.proofDocumentId !== undefined) {
      const list = provenBy.get(item.record.proofDocumentId) ?? [];
      list.push({ reference: fhirFullUrl('Immunization', item.record.id) });
      provenBy.set(item.record.proofDocumentId, list);
    }
  }
  const context: ExportContext = {
    profileRole,
    provenBy: (documentId) => provenBy.get(documentId) ?? [],
    noteTarget,
    versionNumberOf,
    streamResources: (type) => STREAM_RESOURCE_TYPES[type],
  };

  /** Exports one record through `x`; MedicalNote and NoteVersion are grouped per note (`exportNote`). */
  const exportItem = (y: Exporter, item: FhirExportItem, role: (profile: Profile) => ProfileRole): void => {
    const { signature } = item;
    // An imported record's main resource says where it came from (fhir-kinds.ts `originOf`).
    const origin = item.kind === 'ProviderProfile' ? undefined : item.record.origin;
    const main = origin === undefined ? undefined : primaryTarget(item);
    const x: Exporter =
      origin === undefined || main === undefined
        ? y
        : {
            ...y,
            add: (resource) =>
              y.add(
                resource.resourceType === main.type && resource.id === main.id
                  ? originOf(
                      origin.resource === undefined
                        ? resource
                        : withSource(
                            resource,
                            origin,
                            recordContentDigest(item.record) !== origin.recordDigest,
                            (target) =>
                              'patient' in target
                                ? y.patient
                                : 'account' in target
                                  ? y.person(target.account)
                                  : 'kind' in target && y.isRecordKind(target.kind)
                                    ? y.recordRef(target.kind, target.id)
                                    : undefined,
                          ),
                      origin,
                    )
                  : resource,
              ),
          };
    // Each kind's own export (its description's `fhir.export`); notes are grouped per note below.
    const exportRecord = kindDescription(item.kind).fhir.export;
    exportRecord(x, item.record as never, signature, { ...context, profileRole: role });
  };
  for (const item of records) exportItem(exporter, item, profileRole);
  for (const [noteId, group] of notes) exportNote(exporter, noteId, group, signedBy);

  // Records in an unsettled conflict: each other side exports beside the record (see `exportConflict`).
  /** The fullUrl of the resource a record, or a conflict side of it (`side`), mainly exports as. */
  const primaryUrl = (item: FhirExportItem, side: boolean): string =>
    mainUrlOf(item, !side && item.kind === 'Profile' && item.record.id === chosenProfileId);
  /** That resource's `meta.versionId` (a concurrent NoteVersion's Composition has none). */
  const primaryVersion = (item: FhirExportItem): number | undefined =>
    item.kind === 'NoteVersion' && concurrentIds.has(item.record.id) ? undefined : currentVersionOf(item);
  const versioned = (fullUrl: string, version: number | undefined) =>
    version === undefined ? fullUrl : `${fullUrl}/_history/${version}`;
  const sideRole = (): ProfileRole => ({ primary: false, seeAlso: [patientUrl] });

  /** Exports a conflict side of a note or note version through `x`: its note as that side has it. */
  const exportNoteSide = (x: Exporter, side: FhirExportItem): void => {
    if (side.kind === 'MedicalNote') {
      exportNote(
        x,
        side.record.id,
        { ...noteGroup(side.record.id), note: { record: side.record, signature: undefined } },
        signedBy,
      );
    } else if (side.kind === 'NoteVersion') {
      const group = noteGroup(side.record.noteId);
      const entry = { record: side.record, signature: undefined };
      const number = side.record.versionNumber;
      const versions = new Map(group.versions);
      const concurrent = new Map(group.concurrent);
      if (concurrentIds.has(side.record.id)) {
        const others = group.concurrent.get(number) ?? [];
        concurrent.set(
          number,
          others.map((other) => (other.record.id === side.record.id ? entry : other)),
        );
      } else {
        versions.set(number, entry);
      }
      exportNote(x, side.record.noteId, { ...group, versions, concurrent }, signedBy);
    }
  };

  /**
   * Exports the other sides of a record in conflict. A side that is a version of the record exports as
   * the record would; each resource of it that differs from the record's own (same fullUrl and version)
   * is added under its id with `-conflict-{n}`, references among them following, and the rest (e.g. the
   * shared earlier versions of a lab result) is not repeated. A deletion exports as a Provenance of the
   * deletion, not applied. Every resource of a side, the record's current main resource, and every other
   * resource of the record that a side exports differently (its blood-type Observation, a version's
   * Provenance: content the sides contest) or that a deletion would remove (all of the record's but a
   * NoteVersion's note) is tagged HALE_CONFLICT_TAG; the record's links to each side and each side's to
   * the record (`conflicting-version`), each contested resource and the side's version of it to each
   * other, and each resource a deletion disputes to the deletion.
   */
  const exportConflict = (item: FhirExportItem): void => {
    const mainUrl = primaryUrl(item, false);
    const mainVersion = primaryVersion(item);
    const mainRef = versioned(mainUrl, mainVersion);
    const mainKey = entryKey(mainUrl, mainVersion);
    const links: string[] = [];
    /** The record's own resources (but the main one) a side contests: key → the sides' versions of it. */
    const contested = new Map<string, string[]>();
    (conflictSides.get(item) ?? []).forEach((side, index) => {
      const suffix = conflictSuffix(index + 1);
      if ('deletion' in side) {
        const id = `${item.record.id}${suffix}`;
        const resource = makeResource('Provenance', id, {
          meta: meta(side.deletion.at),
          target: [{ reference: mainRef }],
          recorded: fhirDateTime(side.deletion.at),
          activity: {
            coding: [coding(V3_DATA_OPERATION, 'DELETE', 'delete')],
            text: 'deleted on another device while this version was edited: not applied, not settled',
          },
          agent: [
            {
              type: { coding: [coding(PROVENANCE_PARTICIPANT, 'author', 'Author')] },
              who: exporter.person(side.deletion.by),
            },
          ],
        });
        exporter.add(markedInConflict(resource, [mainRef]));
        const deletionRef = fhirFullUrl('Provenance', id);
        links.push(deletionRef);
        // The deletion disputes all the record exports (a lab's report and order, a vaccine's next dose),
        // not only its main resource. A NoteVersion's note is not deleted with it: its main one only.
        const own: FhirResource[] = [];
        const collect: Exporter = { ...exporter, add: (resource) => void own.push(resource) };
        if (item.kind === 'MedicalNote') exportNoteSide(collect, item);
        else if (item.kind !== 'NoteVersion') exportItem(collect, item, profileRole);
        for (const resource of own) {
          const key = entryKey(fhirFullUrl(resource.resourceType, resource.id), versionOf(resource));
          if (key !== mainKey && entries.has(key)) {
            contested.set(key, [...(contested.get(key) ?? []), deletionRef]);
          }
        }
        return;
      }
      // A side exports without a signature (the caller's is the shown version's) and without sides.
      const sideItem = side;
      const captured: FhirResource[] = [];
      const capture: Exporter = { ...exporter, add: (resource) => void captured.push(resource) };
      if (sideItem.kind === 'MedicalNote' || sideItem.kind === 'NoteVersion')
        exportNoteSide(capture, sideItem);
      else exportItem(capture, sideItem, sideRole);
      const keyOf = (resource: FhirResource) =>
        entryKey(fhirFullUrl(resource.resourceType, resource.id), versionOf(resource));
      const differing = captured.filter((resource) => {
        const own = entries.get(keyOf(resource));
        return own === undefined || !sameJson(own.resource, resource);
      });
      const renamed = new Set(differing.map(keyOf));
      const renamedUrls = new Set(differing.map((r) => fhirFullUrl(r.resourceType, r.id)));
      const rewrite = (reference: string): string => {
        const history = HISTORY_RE.exec(reference)?.[0];
        if (history === undefined) return renamedUrls.has(reference) ? `${reference}${suffix}` : reference;
        const url = reference.slice(0, -history.length);
        const version = history.slice('/_history/'.length);
        return renamed.has(`${url}#${version}`) ? `${url}${suffix}${history}` : reference;
      };
      const sideUrl = primaryUrl(sideItem, true);
      const sideVersion = primaryVersion(sideItem);
      const sideKey = entryKey(sideUrl, sideVersion);
      // The side's own main resource links back to the record; were it the record's very resource (the
      // side differs elsewhere only), the first resource that differs does.
      const linked = renamed.has(sideKey) ? sideKey : differing[0] && keyOf(differing[0]);
      for (const resource of differing) {
        const moved: FhirResource = {
          ...withReferencesIn(resource, rewrite),
          resourceType: resource.resourceType,
          id: `${resource.id}${suffix}`,
        };
        const movedRef = versioned(fhirFullUrl(moved.resourceType, moved.id), versionOf(moved));
        const key = keyOf(resource);
        const isLinked = key === linked;
        // The record's own version of this resource, when it has one and the side says otherwise in it
        // (not only a later `meta.lastUpdated`): the sides contest its content.
        const ownEntry = key === mainKey ? undefined : entries.get(key);
        const own =
          ownEntry === undefined || sameJson(withoutMeta(ownEntry.resource), withoutMeta(resource))
            ? undefined
            : ownEntry;
        const ownRef = own === undefined ? undefined : versioned(own.fullUrl, versionOf(own.resource));
        if (ownRef !== undefined) contested.set(key, [...(contested.get(key) ?? []), movedRef]);
        const backLinks = [...(isLinked ? [mainRef] : []), ...(ownRef === undefined ? [] : [ownRef])];
        exporter.add(markedInConflict(moved, [...new Set(backLinks)]));
        if (isLinked) links.push(movedRef);
      }
    });
    for (const [key, sideRefs] of [...contested, [mainKey, links] as const]) {
      const own = entries.get(key);
      if (own === undefined) throw new Error(`unreachable: ${key} was not exported`);
      entries.set(key, { fullUrl: own.fullUrl, resource: markedInConflict(own.resource, sideRefs) });
    }
  };
  for (const item of records) if (item.conflict !== undefined) exportConflict(item);

  // Minimal resources for people and devices named only by id, so every reference resolves.
  const exported = new Set([...entries.values()].map((entry) => entry.fullUrl));
  const ensure = (resource: FhirResource) => {
    const fullUrl = fhirFullUrl(resource.resourceType, resource.id);
    if (exported.has(fullUrl)) return;
    exported.add(fullUrl);
    exporter.add(resource);
  };
  ensure(
    makeResource('Patient', fhirId(patientId), {
      identifier: [{ system: HALE_ACCOUNT_SYSTEM, value: patientId }],
    }),
  );
  for (const accountId of people) {
    const type = personType(accountId);
    ensure(
      makeResource(type, fhirId(accountId), {
        identifier: [{ system: HALE_ACCOUNT_SYSTEM, value: accountId }],
        patient: type === 'RelatedPerson' ? patientRef : undefined,
      }),
    );
  }
  for (const deviceId of devices) {
    ensure(
      makeResource('Device', fhirId(deviceId), {
        identifier: [
          deviceId === SYNC_SERVER_DEVICE_ID ? undefined : { system: HALE_DEVICE_SYSTEM, value: deviceId },
        ],
        deviceName: [
          deviceId === SYNC_SERVER_DEVICE_ID
            ? { name: 'Hale sync server', type: 'user-friendly-name' }
            : undefined,
        ],
      }),
    );
  }

  const entry = [...entries.values()].sort((a, b) => {
    if (a.fullUrl === patientUrl || b.fullUrl === patientUrl) {
      if (a.fullUrl !== b.fullUrl) return a.fullUrl === patientUrl ? -1 : 1;
    }
    return (
      compareStrings(a.fullUrl, b.fullUrl) || (versionOf(a.resource) ?? 0) - (versionOf(b.resource) ?? 0)
    );
  });
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: fhirDateTime(generatedAt) ?? generatedAt,
    entry,
  };
};

const duplicate = (kind: RecordKind, id: string): never =>
  fail({
    code: 'DUPLICATE_RESOURCE',
    message: `${kind} ${id} is listed twice`,
    kind,
    recordId: id,
  });

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Orders records that claim the same place, the one to keep it first: a version someone signed (the
 * text a signature attests belongs in the note's history), then the latest `updatedAt` (the most recent
 * edit, as an instant: another writer's offset or fraction digits, within one millisecond too), then the
 * greater id (ULIDs sort by creation time). Depends on the records alone, so every device exporting the
 * same records makes the same choice, whatever its engine's Date.parse does with those forms.
 */
const preferred =
  (signed: ReadonlySet<string>) =>
  (a: { readonly id: string; readonly updatedAt: string }, b: typeof a): number =>
    Number(signed.has(b.id)) - Number(signed.has(a.id)) ||
    compareInstantTimes(b.updatedAt, a.updatedAt) ||
    compareStrings(b.id, a.id);
