/*
 * FHIR R4 import, planned before anything is written: `planFhirImport` reads a file (fhir-import-input.ts),
 * checks it as a whole, maps each resource (fhir-import-map.ts) and answers the records to write, the
 * resources already imported (duplicates) and what is not imported, each with a reason;
 * `planFhirImportInSlices` makes the same plan in slices, the event loop running between them.
 *
 * Refused whole (`FhirImportFailure`, nothing planned): what readFhirInput refuses; a resource of a mapped
 * type whose read elements have the wrong JSON type (MALFORMED, naming paths); Patient resources of more
 * than one person, or, in a file without a Patient, records naming more than one (SEVERAL_PATIENTS: one
 * chart per import). Not refused, listed as not imported with the path: a resource naming a person not in
 * the file, or with a `urn:` reference naming no entry (such references can only mean an entry of the
 * same file). A file without a Patient says so (`noPatient`): whose chart it is must be asked.
 *
 * Invariants:
 * - Pure: ids come from `newId`, time from `importedAt`; the same file and options give the same plan.
 * - Every record planned carries `origin` (source, resource type, original id, import time) and passed
 *   `validateRecord` and the write rules as the records API will write it; one that does not is listed
 *   as not imported with the validation's words, not written broken.
 * - A resource is found again by its source identity (fhir-import-identity.ts; never the file's name), else
 *   by its origin key (`originKey`, records imported before identities) or, for Hale's own export, its Hale
 *   id. Same content (`origin.digest`): nothing planned. New content: an update of that record, flagged
 *   `editedInHale` when its content is no longer what the import wrote (`origin.recordDigest`).
 * - Of one record's several versions in the file (Hale's export keeps history), the highest
 *   `meta.versionId` is imported and the others listed.
 * - A kept source names the patient, the records of this import and Hale accounts by marker (fhir-source.ts).
 */
import type { RecordOrigin } from './common-schemas';
import type { Result } from './errors';
import { runSteps, runStepsInSlices } from './steps';
import {
  importFailure,
  readFhirInputSteps,
  schemaIssues,
  type FhirImportFailure,
  type FhirImportIssue,
  type FhirInputEntry,
  type FhirInputResource,
} from './fhir-import-input';
import type { TSchema } from '@sinclair/typebox';
import {
  bloodTypeOf,
  mapPatientContact,
  notImportedReason,
  type MapContext,
  type MapOutcome,
  type PendingFile,
} from './fhir-import-map';
import { first, haleAccountOf, haleIdOf, isJson, list, personName, str, type Json } from './fhir-import-read';
import {
  businessIdentifiers,
  identityKeys,
  jsonDigest,
  recordContentDigest,
  sourceDigest,
} from './fhir-import-identity';
import { IMPORT_SCHEMAS } from './fhir-import-schemas';
import { keptSource, portableReferences, withinKeptBytes, type KeptTarget } from './fhir-source';
import { importerOf } from './kind-descriptions';
import { referenceTarget, resolveReference } from './fhir-references';
import { isAccountId, newId as defaultNewId } from './ids';
import type { RecordKind } from './registry';
import { validateRecord } from './validate';
import { checkWriteRules } from './write-rules';

export interface FhirImportOptions {
  /** The chart imported into (the importing patient account). */
  readonly patientId: string;
  /** What the person calls the file (its name); used when the file does not name its source system. */
  readonly source?: string;
  /** When the import runs (ISO instant, UTC). */
  readonly importedAt: string;
  /** New record ids; `newId` of this package by default. */
  readonly newId?: () => string;
  /**
   * Origin keys (`originKey`) of the records held, and the ids of the records held; `held`: the records
   * held by each identity key of their origin (`RecordOrigin.identity`).
   */
  readonly existing?: {
    readonly originKeys: ReadonlySet<string>;
    readonly ids: ReadonlySet<string>;
    readonly held?: ReadonlyMap<string, HeldImport>;
  };
  /** Whether the chart has a Profile already (then the file's Patient is listed, not imported). */
  readonly hasProfile?: boolean;
  /** The patient's birth date, for the write rules (a vaccine given before birth). */
  readonly birthDate?: string;
}

export interface PlannedRecord {
  readonly id: string;
  readonly kind: RecordKind;
  /** The records API's input: the record without id, patient and timestamps (and `file` while pending). */
  readonly input: Readonly<Record<string, unknown>>;
  /** Embedded files to upload first; their FileRefs go into `file` or `attachments`. */
  readonly files: readonly PendingFile[];
  readonly origin: RecordOrigin;
  /** Elements of the resource the record does not keep. */
  readonly notKept: readonly string[];
  /** What was read leniently (one value where R4 wants a list). */
  readonly warnings: readonly string[];
  /** Where in the file (`entry[3]`, `line 4`). */
  readonly path: string;
}

/** A record held that an import made: found again by its identity (fhir-import-identity.ts). */
export interface HeldImport {
  readonly id: string;
  readonly kind: RecordKind;
  /** `origin.digest`: the source resource as imported. */
  readonly digest: string | undefined;
  /** `origin.recordDigest`: the record's content as imported. */
  readonly recordDigest: string | undefined;
  /** `recordContentDigest` of the record as held now (its shown version). */
  readonly currentDigest: string;
}

/** A record held, read again with new content: its next version, or (edited in Hale since) a conflict. */
export interface PlannedUpdate extends PlannedRecord {
  /** The record was edited in Hale since it was imported: both are kept, as a conflict to settle. */
  readonly editedInHale: boolean;
}

export interface ImportListing {
  readonly path: string;
  readonly resourceType: string;
  readonly originalId: string;
  readonly reason: string;
}

export interface FhirImportPlan {
  readonly source: string;
  readonly format: 'bundle' | 'resource' | 'ndjson';
  readonly records: readonly PlannedRecord[];
  /** Imported before: nothing is written for them. */
  readonly duplicates: readonly ImportListing[];
  /** Imported before, changed in the source since: each becomes the next version of its record. */
  readonly updates: readonly PlannedUpdate[];
  /** The file names no Patient: whose chart it is must be asked before importing (the chart given). */
  readonly noPatient: boolean;
  /** Not imported, and why. */
  readonly skipped: readonly ImportListing[];
  /** Read into another record of the file (a blood type into the profile, a report's files into a result). */
  readonly absorbed: readonly ImportListing[];
}

const ABSOLUTE_RE = /^[a-z][a-z0-9+.-]*:/;
const LOCAL_RE = /^urn:(?:uuid|oid|hale):/;
const HISTORY_RE = /\/_history\/[^/]+$/;

/** The key a record's origin is found by: the resource's own URI, or `Type/id` within its source. */
export const originKey = (origin: Pick<RecordOrigin, 'source' | 'resourceType' | 'originalId'>): string =>
  ABSOLUTE_RE.test(origin.originalId)
    ? `${origin.resourceType}|${origin.originalId}`
    : `${origin.source}|${origin.resourceType}|${origin.originalId}`;

interface Indexed {
  readonly entry: FhirInputEntry;
  readonly resource: Json & { readonly resourceType: string };
  readonly originalId: string;
}

/** Every Reference of a resource: its string, whether it names the patient, and its display. */
interface FoundReference {
  readonly reference: string;
  readonly display: string | undefined;
  readonly patient: boolean;
  /** Where in the resource, e.g. `performer[0].actor`. */
  readonly path: string;
}
const referencesIn = (value: unknown, out: FoundReference[] = [], key = '', path = ''): FoundReference[] => {
  if (Array.isArray(value)) value.forEach((item, index) => referencesIn(item, out, key, `${path}[${index}]`));
  else if (isJson(value)) {
    if (typeof value['reference'] === 'string') {
      out.push({
        reference: value['reference'],
        display: str(value['display']),
        patient: key === 'subject' || key === 'patient',
        path,
      });
    }
    for (const [name, child] of Object.entries(value))
      if (name !== 'reference') referencesIn(child, out, name, path === '' ? name : `${path}.${name}`);
  }
  return out;
};

const versionOf = (resource: Json): number => {
  const meta = isJson(resource['meta']) ? resource['meta'] : undefined;
  const version = Number(meta?.['versionId']);
  return Number.isFinite(version) ? version : 0;
};

/** What the import reads of a resource type: its importer's shape (a kind's description), else the table's. */
const shapeOf = (resourceType: string): TSchema | undefined =>
  importerOf(resourceType)?.shape ??
  (Object.hasOwn(IMPORT_SCHEMAS, resourceType)
    ? IMPORT_SCHEMAS[resourceType as keyof typeof IMPORT_SCHEMAS]
    : undefined);

type PlanAnswer = Result<FhirImportPlan, FhirImportFailure>;

/** The plan of `input` (see the header), made at once. */
export const planFhirImport = (input: string | Uint8Array, options: FhirImportOptions): PlanAnswer =>
  runSteps(planSteps(input, options));

/**
 * The same plan made in slices of about `sliceMs` of work, `pause()` awaited between them (a page's event
 * loop runs there: no long task while a large file is planned).
 */
export const planFhirImportInSlices = (
  input: string | Uint8Array,
  options: FhirImportOptions,
  pause: () => Promise<void>,
  sliceMs = 40,
): Promise<PlanAnswer> => runStepsInSlices(planSteps(input, options), pause, sliceMs);

/** The plan's work, yielding after each resource of each pass: where a slice may end. */
function* planSteps(input: string | Uint8Array, options: FhirImportOptions): Generator<void, PlanAnswer> {
  const read = yield* readFhirInputSteps(input);
  if (!read.ok) return read;
  const { entries, format } = read.value;
  const source = (options.source ?? read.value.source ?? 'FHIR import').slice(0, 500);
  const newId = options.newId ?? defaultNewId;

  // Shapes of what is read, all at once: one garbled resource refuses the file. One value where R4 wants
  // a list (a common slip of exporters) is read as a list of one, and said so.
  const issues: FhirImportIssue[] = [];
  const repairs = new Map<FhirInputEntry, string[]>();
  const shaped: FhirInputEntry[] = [];
  for (const entry of entries) {
    yield;
    const schema = entry.resource === undefined ? undefined : shapeOf(entry.resource.resourceType);
    if (schema === undefined || entry.resource === undefined) {
      shaped.push(entry);
      continue;
    }
    const { resource, repaired } = listsRepaired(schema, entry.resource);
    const fixed = repaired.length === 0 ? entry : { ...entry, resource };
    if (repaired.length > 0) repairs.set(fixed, repaired);
    issues.push(...schemaIssues(schema, resource, `${entry.path}.resource`));
    shaped.push(fixed);
  }
  if (issues.length > 0) {
    const firstIssue = issues[0];
    return importFailure(
      'MALFORMED',
      `the file is not valid FHIR: ${firstIssue?.path}: ${firstIssue?.reason}`,
      issues,
    );
  }

  const skipped: ImportListing[] = [];
  const absorbed: ImportListing[] = [];
  const duplicates: ImportListing[] = [];
  const listing = (item: Indexed, reason: string): ImportListing => ({
    path: item.entry.path,
    resourceType: item.resource.resourceType,
    originalId: item.originalId,
    reason,
  });

  const all: Indexed[] = [];
  for (const entry of shaped) {
    if (entry.resource === undefined) {
      skipped.push({
        path: entry.path,
        resourceType: '(none)',
        originalId: entry.fullUrl ?? '',
        reason: `an entry without a resource (${entry.method ?? 'no request'})`,
      });
      continue;
    }
    const resource = entry.resource;
    const id = str(resource['id']);
    const originalId =
      entry.fullUrl !== undefined && ABSOLUTE_RE.test(entry.fullUrl)
        ? entry.fullUrl
        : `${resource.resourceType}/${id ?? entry.path}`;
    all.push({ entry, resource, originalId });
  }
  const byUrl = new Map<string, Indexed>();
  const byTypeId = new Map<string, Indexed>();
  const current: Indexed[] = [];
  for (const item of all) {
    const url = item.entry.fullUrl;
    const held = url === undefined ? undefined : byUrl.get(url);
    if (url !== undefined && held !== undefined) {
      // Versions of one resource (Hale's export keeps history): the highest is the record.
      const [newer, older] =
        versionOf(item.resource) > versionOf(held.resource) ? [item, held] : [held, item];
      skipped.push(listing(older, 'an earlier version of a record (the current one is imported)'));
      byUrl.set(url, newer);
      current.splice(current.indexOf(held), 1, newer);
    } else {
      if (url !== undefined) byUrl.set(url, item);
      current.push(item);
    }
    const id = str(item.resource['id']);
    if (id !== undefined)
      byTypeId.set(
        `${item.resource.resourceType}/${id}`,
        byTypeId.get(`${item.resource.resourceType}/${id}`) ?? item,
      );
  }
  for (const item of current) {
    const id = str(item.resource['id']);
    if (id !== undefined) byTypeId.set(`${item.resource.resourceType}/${id}`, item);
  }

  const find = (reference: unknown, from: Indexed | undefined): Indexed | undefined => {
    if (typeof reference !== 'string') return undefined;
    const bare = reference.replace(HISTORY_RE, '');
    const absolute = resolveReference(bare, from?.entry.fullUrl);
    const found = byUrl.get(absolute) ?? byUrl.get(bare);
    if (found !== undefined) return found;
    if (LOCAL_RE.test(bare)) return undefined;
    const target = referenceTarget(bare);
    return target === undefined ? undefined : byTypeId.get(`${target.type}/${target.id}`);
  };

  // References that can only mean an entry of this file must find one. A resource with one naming the
  // patient, or naming nothing else (no display), is not imported, its path said; one with a display is
  // read by it, and said so.
  const strangers = new Map<Indexed, string>();
  const danglingNotes = new Map<Indexed, string[]>();
  for (const item of current) {
    yield;
    for (const found of referencesIn(item.resource)) {
      if (!LOCAL_RE.test(found.reference) || find(found.reference, item) !== undefined) continue;
      const at = `${item.entry.path}.resource.${found.path}`;
      if ((found.patient || found.display === undefined) && item.resource.resourceType !== 'Patient') {
        if (!strangers.has(item)) strangers.set(item, `${at}: ${found.reference} names no entry of the file`);
      } else {
        const notes = danglingNotes.get(item) ?? [];
        notes.push(`${at}: ${found.reference} names no entry of the file: read as “${found.display}”`);
        danglingNotes.set(item, notes);
      }
    }
  }

  // One patient: the Patients of the file (linked ones are one person) and what records name as theirs.
  const patients = current.filter((i) => i.resource.resourceType === 'Patient');
  const group = new Map<Indexed, Indexed>();
  const root = (p: Indexed): Indexed => {
    let at = p;
    while (group.get(at) !== undefined && group.get(at) !== at) at = group.get(at) as Indexed;
    return at;
  };
  for (const p of patients) group.set(p, p);
  for (const p of patients) {
    for (const link of list(p.resource['link'])) {
      const other = isJson(link) && isJson(link['other']) ? find(link['other']['reference'], p) : undefined;
      if (other !== undefined && group.has(other)) group.set(root(other), root(p));
    }
  }
  // Several people's Patient resources: one chart per import. A record naming a person not in the file
  // (beside the file's Patient) is not imported, its path said; without a Patient, the records must all
  // name one person.
  const roots = new Set(patients.map(root));
  const named = new Set<string>();
  for (const item of current) {
    for (const field of ['subject', 'patient']) {
      const ref = item.resource[field];
      if (!isJson(ref) || typeof ref['reference'] !== 'string' || strangers.has(item)) continue;
      if (/^(Group|Location|Device)\//.test(ref['reference'])) continue;
      const found = find(ref['reference'], item);
      if (found !== undefined && (found.resource.resourceType !== 'Patient' || roots.has(root(found))))
        continue;
      if (roots.size === 0) named.add(ref['reference']);
      else
        strangers.set(
          item,
          `${item.entry.path}.resource.${field}: ${ref['reference']} names a person not in this file`,
        );
    }
  }
  if (roots.size > 1 || named.size > 1) {
    const count = Math.max(roots.size, named.size);
    return importFailure(
      'SEVERAL_PATIENTS',
      `the file holds records of ${count} patients: import one patient's records at a time`,
    );
  }
  // The Patient a Profile comes from: the one a Hale export names by account, else the first.
  const primary = patients.find((p) => haleAccountOf(p.resource) !== undefined) ?? patients[0];

  // Who the file's patient is in its source: the first business identifier, else the Patient's id.
  // Without a Patient in the file: the patient its records name.
  const patientKey =
    primary === undefined
      ? [...named][0]
      : (businessIdentifiers(primary.resource)[0] ??
        `Patient/${str(primary.resource['id']) ?? primary.originalId}`);
  const identityOf = (item: Indexed, part = ''): string[] =>
    identityKeys(item.resource, patientKey, item.entry.fullUrl).map((k) => `${k}${part}`.slice(0, 600));

  const hasProfile = options.hasProfile === true;
  const existing = options.existing ?? { originKeys: new Set<string>(), ids: new Set<string>() };
  const heldBy = (identity: readonly string[]): HeldImport | undefined =>
    identity.map((k) => existing.held?.get(k)).find((h) => h !== undefined);
  // A Patient imported before (found by its identity) is read again like any resource; another one
  // beside a profile held is listed.
  const patientHeld = primary !== undefined && heldBy(identityOf(primary)) !== undefined;
  const profileImported = primary !== undefined && (!hasProfile || patientHeld);
  const bloodItem = profileImported
    ? current.find((i) => i.resource.resourceType === 'Observation' && bloodTypeOf(i.resource) !== undefined)
    : undefined;
  const bloodType = bloodItem === undefined ? undefined : bloodTypeOf(bloodItem.resource);

  // What one record reads from another entry: next doses, a result's report, an order.
  const ids = new Map<Indexed, string>();
  for (const item of current) ids.set(item, newId());
  const nextDose = new Map<Indexed, string>();
  const reportFiles = new Map<Indexed, Json[]>();
  const absorbedBy = new Map<Indexed, string>();
  for (const item of current) {
    const r = item.resource;
    if (r.resourceType === 'ImmunizationRecommendation') {
      for (const rec of list(r['recommendation']).filter(isJson)) {
        const vaccine = list(rec['supportingImmunization'])
          .filter(isJson)
          .map((s) => find(s['reference'], item))
          .find((v) => v !== undefined);
        const criterion = list(rec['dateCriterion']).find(isJson);
        const due = isJson(criterion) ? str(criterion['value']) : undefined;
        if (vaccine !== undefined && due !== undefined) {
          nextDose.set(vaccine, due);
          absorbedBy.set(item, 'the next dose of an immunization, kept on it');
        }
      }
    } else if (r.resourceType === 'DiagnosticReport') {
      const results = list(r['result'])
        .filter(isJson)
        .map((s) => find(s['reference'], item));
      const forms = list(r['presentedForm']).filter(isJson);
      const [only] = results;
      if (results.length === 1 && only?.resource.resourceType === 'Observation' && forms.length > 0) {
        reportFiles.set(only, forms);
        absorbedBy.set(item, 'the files of a result, kept on it');
      }
    } else if (r.resourceType === 'Observation') {
      for (const basis of list(r['basedOn']).filter(isJson)) {
        const order = find(basis['reference'], item);
        if (order?.resource.resourceType === 'ServiceRequest')
          absorbedBy.set(order, 'the order of a result, kept on it');
      }
    }
  }

  const contextFor = (item: Indexed): MapContext => ({
    importedAt: options.importedAt,
    resolve: (reference) => find(reference, item)?.resource,
    accountOf: (reference) => {
      const person = find(reference, item)?.resource;
      const account = haleAccountOf(person);
      return account !== undefined && isAccountId(account) ? account : undefined;
    },
    newIdOf: (reference) => {
      const target = find(reference, item);
      return target === undefined ? undefined : ids.get(target);
    },
    importedKindOf: (reference) => {
      const target = find(reference, item);
      return target === undefined ? undefined : importerOf(target.resource.resourceType)?.kind;
    },
    bloodType,
    profileImported,
    nextDoseOf: () => {
      const due = nextDose.get(item);
      return due;
    },
    attachmentsOf: () => reportFiles.get(item) ?? [],
  });

  const seen = new Set<string>();
  const planned: (PlannedRecord & { readonly held?: HeldImport; readonly item?: Indexed })[] = [];
  /** The record each resource is read into (planned, or held from an earlier import). */
  const recordOf = new Map<Indexed, { readonly id: string; readonly kind: RecordKind }>();
  /** `part`: a part of the resource read into its own record (a Patient's contact), and its content. */
  const plan = (
    item: Indexed,
    outcome: MapOutcome | undefined,
    originalId: string,
    part?: { readonly suffix: string; readonly value: Json },
  ): void => {
    if (outcome === undefined)
      return void skipped.push(listing(item, notImportedReason(item.resource.resourceType)));
    if ('skip' in outcome) return void skipped.push({ ...listing(item, outcome.skip), originalId });
    if ('absorbed' in outcome) return void absorbed.push({ ...listing(item, outcome.absorbed), originalId });
    const folded = outcome.kind === 'Profile' && bloodItem !== undefined ? identityOf(bloodItem) : [];
    const identity = [...identityOf(item, part?.suffix), ...folded].slice(0, 20);
    const digest = part === undefined ? sourceDigest(item.resource) : jsonDigest(part.value);
    // The resource itself is kept with its main record (fhir-source.ts); a part (a contact) keeps none.
    const kept = part === undefined ? keptSource(item.resource) : undefined;
    const sourceOnly = outcome.notKept.filter((k) => k in item.resource).slice(0, 100);
    const origin: RecordOrigin = {
      source,
      resourceType: item.resource.resourceType,
      originalId: originalId.slice(0, 500),
      importedAt: options.importedAt,
      identity,
      digest,
      ...(kept === undefined ? {} : { resource: kept, ...(sourceOnly.length > 0 ? { sourceOnly } : {}) }),
    };
    const notKept =
      part === undefined && kept === undefined
        ? [...outcome.notKept, 'the source resource (too large to keep)']
        : [...outcome.notKept, ...(part === undefined ? containedNotKept(item.resource, kept) : [])];
    const key = originKey(origin);
    const haleId = originalId === item.originalId ? haleIdOf(item.resource) : undefined;
    const held = heldBy(identity);
    if (held !== undefined && part === undefined && held.kind === outcome.kind)
      recordOf.set(item, { id: held.id, kind: held.kind });
    if (held !== undefined && (held.kind !== outcome.kind || held.digest === digest)) {
      const why =
        held.kind === outcome.kind ? 'imported before' : 'imported before, read into another record';
      return void duplicates.push({ ...listing(item, why), originalId });
    }
    if (
      held === undefined &&
      (existing.originKeys.has(key) || (haleId !== undefined && existing.ids.has(haleId)))
    ) {
      return void duplicates.push({ ...listing(item, 'imported before'), originalId });
    }
    if (seen.has(key) || identity.some((k) => seen.has(k)))
      return void duplicates.push({ ...listing(item, 'listed twice in the file'), originalId });
    for (const k of [key, ...identity]) seen.add(k);
    const id =
      held !== undefined ? held.id : originalId === item.originalId ? (ids.get(item) ?? newId()) : newId();
    const warnings = [
      ...(repairs.get(item.entry) ?? []).map(
        (name) => `${name}: one value where a list belongs, read as a list`,
      ),
      ...(danglingNotes.get(item) ?? []),
    ];
    planned.push({
      id,
      kind: outcome.kind,
      input: { ...outcome.input, origin },
      files: outcome.files ?? [],
      origin,
      notKept,
      warnings,
      path: item.entry.path,
      ...(held === undefined ? {} : { held }),
      ...(part === undefined ? { item } : {}),
    });
  };

  for (const item of current) {
    yield;
    const type = item.resource.resourceType;
    const stranger = strangers.get(item);
    if (stranger !== undefined) {
      skipped.push(listing(item, `not imported: ${stranger}`));
      continue;
    }
    const why = absorbedBy.get(item);
    if (why !== undefined) {
      absorbed.push(listing(item, why));
      continue;
    }
    if (type === 'Patient') {
      if (item !== primary) skipped.push(listing(item, 'another record of the same person in the file'));
      else if (hasProfile && !patientHeld) {
        const key = originKey({ source, resourceType: 'Patient', originalId: item.originalId });
        const haleId = haleIdOf(item.resource);
        if (existing.originKeys.has(key) || (haleId !== undefined && existing.ids.has(haleId))) {
          duplicates.push(listing(item, 'imported before'));
        } else
          skipped.push(listing(item, 'your profile exists already: edit it to take anything from this file'));
      } else
        plan(
          item,
          importerOf(item.resource.resourceType)?.map(item.resource, contextFor(item)),
          item.originalId,
        );
      list(item.resource['contact'])
        .filter(isJson)
        .forEach((contact, index) =>
          plan(item, mapPatientContact(contact, item.resource), `${item.originalId}#contact[${index}]`, {
            suffix: `#contact[${index}]`,
            value: contact,
          }),
        );
      continue;
    }
    plan(item, importerOf(item.resource.resourceType)?.map(item.resource, contextFor(item)), item.originalId);
  }

  // Each record as the records API will write it must pass the model's rules; the others are listed.
  const plannedIds = new Set(planned.map((p) => p.id));
  const now = Date.parse(options.importedAt);
  const passed: {
    p: (typeof planned)[number];
    input: Readonly<Record<string, unknown>>;
    notKept: readonly string[];
    digest: string;
  }[] = [];
  for (const p of planned) {
    yield;
    let input = p.input;
    let notKept = p.notKept;
    const proof = input['proofDocumentId'];
    if (typeof proof === 'string' && !plannedIds.has(proof)) {
      const { proofDocumentId: _dropped, ...rest } = input;
      input = rest;
      notKept = [...notKept, 'proof document (not imported)'];
    }
    const candidate = provisional(p.kind, p.id, input, p.files, options);
    const valid = validateRecord(p.kind, candidate);
    const rules = valid.ok
      ? checkWriteRules(
          p.kind,
          valid.value,
          now,
          undefined,
          options.birthDate === undefined ? {} : { birthDate: options.birthDate },
        )
      : valid;
    if (!rules.ok) {
      skipped.push({
        path: p.path,
        resourceType: p.origin.resourceType,
        originalId: p.origin.originalId,
        reason: rules.error.message,
      });
      if (p.item !== undefined && p.held === undefined) recordOf.delete(p.item);
      continue;
    }
    if (p.item !== undefined) recordOf.set(p.item, { id: p.id, kind: p.kind });
    // The content as written, so that a later import can tell an edit in Hale from its own write.
    passed.push({ p, input, notKept, digest: recordContentDigest(valid.ok ? valid.value : candidate) });
  }

  // The references of each kept source, made portable: to the patient, a record or an account by marker.
  const targetIn =
    (from: Indexed) =>
    (reference: string): KeptTarget | undefined => {
      const found = find(reference, from);
      if (found === undefined) return named.has(reference) ? { patient: true } : undefined;
      if (found.resource.resourceType === 'Patient' && group.has(found) && roots.has(root(found)))
        return { patient: true };
      const account = haleAccountOf(found.resource);
      if (account !== undefined && isAccountId(account)) return { account };
      return recordOf.get(found);
    };
  const aboutIn = (from: Indexed) => (reference: string) => {
    const found = find(reference, from)?.resource;
    if (found === undefined) return undefined;
    const display = str(found['name']) ?? personName(first(found['name']));
    return { type: found.resourceType, ...(display === undefined ? {} : { display }) };
  };
  const records: PlannedRecord[] = [];
  const updates: PlannedUpdate[] = [];
  for (const { p, input, notKept, digest } of passed) {
    yield;
    const { held, item, ...rest } = p;
    const portable =
      item === undefined || p.origin.resource === undefined
        ? p.origin.resource
        : withinKeptBytes(portableReferences(p.origin.resource, targetIn(item), aboutIn(item)));
    const { resource: _source, sourceOnly: _only, ...bare } = p.origin;
    const origin: RecordOrigin =
      portable === undefined
        ? { ...bare, recordDigest: digest }
        : { ...p.origin, resource: portable, recordDigest: digest };
    const lost =
      portable === undefined && p.origin.resource !== undefined
        ? [...notKept, 'the source resource (too large to keep)']
        : notKept;
    const done = { ...rest, input: { ...input, origin }, origin, notKept: lost };
    if (held === undefined) records.push(done);
    else
      updates.push({
        ...done,
        editedInHale: held.recordDigest === undefined || held.recordDigest !== held.currentDigest,
      });
  }
  if (
    records.length === 0 &&
    updates.length === 0 &&
    duplicates.length === 0 &&
    absorbed.length === 0 &&
    skipped.length === 0
  ) {
    return importFailure('NOTHING_TO_IMPORT', 'the file holds no record Hale can import');
  }
  const noPatient = primary === undefined;
  return {
    ok: true,
    value: { source, format, records, updates, duplicates, skipped, absorbed, noPatient },
  };
}

/** The contained resources a kept source leaves out, each with why (fhir-source.ts `keptSource`). */
const containedNotKept = (resource: Json, kept: Json | undefined): string[] => {
  const held = new Set(list(kept?.['contained']).map((c) => (isJson(c) ? c['id'] : undefined)));
  return list(resource['contained'])
    .filter(isJson)
    .filter((c) => !held.has(c['id']))
    .map((c) =>
      c['resourceType'] === 'Patient'
        ? 'contained Patient (a person in the resource: the record is in this chart)'
        : `contained ${String(c['resourceType'])} (named by nothing in the resource)`,
    );
};

/** `resource` with each top-level element the schema lists as an array, given as one object, made a list. */
const listsRepaired = (
  schema: TSchema,
  resource: FhirInputResource,
): { resource: FhirInputResource; repaired: string[] } => {
  const properties = (schema as { properties?: Record<string, { type?: string }> }).properties ?? {};
  const repaired: string[] = [];
  const out: Record<string, unknown> = { ...resource };
  for (const [name, property] of Object.entries(properties)) {
    if (property.type === 'array' && isJson(out[name])) {
      out[name] = [out[name]];
      repaired.push(name);
    }
  }
  return { resource: repaired.length === 0 ? resource : (out as FhirInputResource), repaired };
};

const PLACEHOLDER_DEVICE = 'ImportPlaceholderDevice';
const ZERO_SHA = '0'.repeat(64);

/** The record a planned input becomes, with placeholders where the records API and uploads fill in. */
const provisional = (
  kind: RecordKind,
  id: string,
  input: Readonly<Record<string, unknown>>,
  files: readonly PendingFile[],
  options: FhirImportOptions,
): Record<string, unknown> => {
  const at = options.importedAt;
  const fileRef = (f: PendingFile) => ({
    blobId: `pending${id}`,
    fileName: f.fileName,
    mediaType: f.mediaType,
    size: Math.floor((f.data.length * 3) / 4),
    sha256: ZERO_SHA,
  });
  const file = files.find((f) => f.field === 'file');
  const attachments = files.filter((f) => f.field === 'attachments');
  return {
    ...input,
    id,
    patientId: options.patientId,
    createdAt: at,
    updatedAt: at,
    ...(file === undefined ? {} : { file: fileRef(file) }),
    ...(attachments.length === 0 ? {} : { attachments: attachments.map(fileRef) }),
    ...(kind === 'LabResult'
      ? {
          version: 1,
          versions: [],
          provenance: { by: options.patientId, deviceId: PLACEHOLDER_DEVICE.slice(0, 22), at },
        }
      : {}),
    ...(kind === 'HealthDocument' ? { version: 1, versions: [] } : {}),
  };
};
