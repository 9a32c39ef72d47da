/*
 * FHIR R4 shape check of a bundle (validateFhirBundleShape): required elements, codes, references, signatures.
 * The export's invariants and failure modes: fhir.ts.
 */
import type { Result } from './errors';
import { isFhirInstant } from './formats';
import { resolveReference } from './fhir-references';
import { FHIR_FORBIDDEN_CONTROL_RE, base64 } from './fhir-draft';
import { KIND_FHIR_SHAPES } from './kind-descriptions';

// --------------------------------------------------------------------------------------- validation

export interface FhirShapeIssue {
  /** e.g. `entry[3].resource.reaction[0].manifestation`. */
  readonly path: string;
  readonly reason: string;
}

export interface FhirShapeInvalid {
  readonly code: 'FHIR_SHAPE_INVALID';
  readonly message: string;
  readonly issues: readonly FhirShapeIssue[];
}

/** FHIR's request intents (MedicationRequest; a Task also `unknown`). */
const REQUEST_INTENTS = [
  'proposal',
  'plan',
  'order',
  'original-order',
  'reflex-order',
  'filler-order',
  'instance-order',
  'option',
];

/**
 * Elements FHIR R4 requires (min 1) in the resource types Hale exports (a kind's description may add its
 * own resource's: `fhir.shapes`). `a.b` means: every `a` present
 * must have `b`; `x[x]` is a choice element (`xString`, `xDateTime`, …).
 */
const REQUIRED_ELEMENTS: Readonly<Record<string, readonly string[]>> = {
  Patient: ['link.other', 'link.type'],
  Practitioner: [],
  PractitionerRole: [],
  Device: ['deviceName.name', 'deviceName.type'],
  RelatedPerson: ['patient'],
  DocumentReference: ['status', 'content', 'content.attachment', 'relatesTo.code', 'relatesTo.target'],
  AllergyIntolerance: ['patient', 'reaction.manifestation'],
  Immunization: [
    'status',
    'vaccineCode',
    'patient',
    'occurrence[x]',
    'performer.actor',
    'protocolApplied.doseNumber[x]',
  ],
  ImmunizationRecommendation: [
    'patient',
    'date',
    'recommendation',
    'recommendation.forecastStatus',
    'recommendation.dateCriterion.code',
    'recommendation.dateCriterion.value',
  ],
  MedicationStatement: ['status', 'medication[x]', 'subject'],
  MedicationRequest: ['status', 'intent', 'medication[x]', 'subject'],
  MedicationAdministration: ['status', 'medication[x]', 'subject', 'effective[x]'],
  Observation: ['status', 'code'],
  DiagnosticReport: ['status', 'code'],
  ServiceRequest: ['status', 'intent', 'subject'],
  CarePlan: ['status', 'intent', 'subject'],
  Appointment: ['status', 'participant', 'participant.status'],
  Communication: ['status', 'payload.content[x]'],
  Encounter: ['status', 'class', 'location.location'],
  Composition: [
    'status',
    'type',
    'date',
    'author',
    'title',
    'attester.mode',
    'relatesTo.code',
    'relatesTo.target[x]',
  ],
  Provenance: [
    'target',
    'recorded',
    'agent',
    'agent.who',
    'signature.type',
    'signature.when',
    'signature.who',
  ],
  Task: ['status', 'intent'],
  Condition: ['subject'],
  Procedure: ['status', 'subject', 'performer.actor'],
  Consent: ['status', 'scope', 'category', 'provision.actor.role', 'provision.actor.reference'],
  AuditEvent: [
    'type',
    'recorded',
    'agent',
    'agent.requestor',
    'source',
    'source.observer',
    'entity.detail.type',
    'entity.detail.value[x]',
  ],
};

const TELECOM_SYSTEMS = ['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other'];
const RELATES_TO = ['replaces', 'transforms', 'signs', 'appends'];

/** Required bindings (FHIR R4 value sets) of the code elements Hale fills. */
const CODE_ELEMENTS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  Patient: {
    gender: ['male', 'female', 'other', 'unknown'],
    'telecom.system': TELECOM_SYSTEMS,
    'link.type': ['replaced-by', 'replaces', 'refer', 'seealso'],
  },
  RelatedPerson: { 'telecom.system': TELECOM_SYSTEMS },
  PractitionerRole: { 'telecom.system': TELECOM_SYSTEMS },
  DocumentReference: { status: ['current', 'superseded', 'entered-in-error'], 'relatesTo.code': RELATES_TO },
  AllergyIntolerance: {
    category: ['food', 'medication', 'environment', 'biologic'],
    'reaction.severity': ['mild', 'moderate', 'severe'],
  },
  Immunization: { status: ['completed', 'entered-in-error', 'not-done'] },
  MedicationStatement: {
    status: [
      'active',
      'completed',
      'entered-in-error',
      'intended',
      'stopped',
      'on-hold',
      'unknown',
      'not-taken',
    ],
  },
  MedicationRequest: {
    status: [
      'active',
      'on-hold',
      'cancelled',
      'completed',
      'entered-in-error',
      'stopped',
      'draft',
      'unknown',
    ],
    intent: REQUEST_INTENTS,
  },
  MedicationAdministration: {
    status: ['in-progress', 'not-done', 'on-hold', 'completed', 'entered-in-error', 'stopped', 'unknown'],
  },
  Observation: {
    'valueQuantity.comparator': ['<', '<=', '>=', '>'],
    status: [
      'registered',
      'preliminary',
      'final',
      'amended',
      'corrected',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
  DiagnosticReport: {
    status: [
      'registered',
      'partial',
      'preliminary',
      'final',
      'amended',
      'corrected',
      'appended',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
  ServiceRequest: {
    status: ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'],
    intent: [
      'proposal',
      'plan',
      'directive',
      'order',
      'original-order',
      'reflex-order',
      'filler-order',
      'instance-order',
      'option',
    ],
  },
  CarePlan: {
    status: ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'],
    intent: ['proposal', 'plan', 'order', 'option'],
  },
  Appointment: {
    status: [
      'proposed',
      'pending',
      'booked',
      'arrived',
      'fulfilled',
      'cancelled',
      'noshow',
      'entered-in-error',
      'checked-in',
      'waitlist',
    ],
    'participant.status': ['accepted', 'declined', 'tentative', 'needs-action'],
  },
  Communication: {
    status: [
      'preparation',
      'in-progress',
      'not-done',
      'on-hold',
      'stopped',
      'completed',
      'entered-in-error',
      'unknown',
    ],
  },
  Encounter: {
    status: [
      'planned',
      'arrived',
      'triaged',
      'in-progress',
      'onleave',
      'finished',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
  Composition: {
    status: ['preliminary', 'final', 'amended', 'entered-in-error'],
    'attester.mode': ['personal', 'professional', 'legal', 'official'],
    'relatesTo.code': RELATES_TO,
  },
  Task: {
    status: [
      'draft',
      'requested',
      'received',
      'accepted',
      'rejected',
      'ready',
      'cancelled',
      'in-progress',
      'on-hold',
      'failed',
      'completed',
      'entered-in-error',
    ],
    intent: ['unknown', ...REQUEST_INTENTS],
  },
  Consent: {
    status: ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'],
    'provision.type': ['deny', 'permit'],
    'provision.provision.type': ['deny', 'permit'],
  },
  AuditEvent: { action: ['C', 'R', 'U', 'D', 'E'] },
  Procedure: {
    status: [
      'preparation',
      'in-progress',
      'not-done',
      'on-hold',
      'stopped',
      'completed',
      'entered-in-error',
      'unknown',
    ],
  },
};

const BUNDLE_TYPES = [
  'document',
  'message',
  'transaction',
  'transaction-response',
  'batch',
  'batch-response',
  'history',
  'searchset',
  'collection',
];
const FHIR_ID_RE = /^[A-Za-z0-9.-]{1,64}$/;
export const HISTORY_RE = /\/_history\/[A-Za-z0-9.-]{1,64}$/;
// `/_history` as a whole path segment: what FHIR reserves for versions (`_` is in no FHIR id).
const HISTORY_SEGMENT_RE = /\/_history(?=\/|$)/;
const MAX_SHAPE_ISSUES = 100;

type JsonRecord = Readonly<Record<string, unknown>>;
export const isRecordObject = (value: unknown): value is JsonRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const asList = (value: unknown): readonly unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Keys of `node` that carry element `name` (`value[x]` matches `valueString`, `valueQuantity`, …). */
const elementKeys = (node: JsonRecord, name: string): string[] => {
  if (!name.endsWith('[x]')) return name in node ? [name] : [];
  const prefix = name.slice(0, -3);
  return Object.keys(node).filter((key) => key.startsWith(prefix) && /^[A-Z]/.test(key.slice(prefix.length)));
};

const checkRequired = (
  node: JsonRecord,
  segments: readonly string[],
  path: string,
  issues: FhirShapeIssue[],
) => {
  const [name, ...rest] = segments;
  if (name === undefined) return;
  const keys = elementKeys(node, name);
  if (rest.length === 0) {
    if (keys.length === 0) issues.push({ path: `${path}.${name}`, reason: 'is required' });
    else if (keys.length > 1)
      issues.push({ path: `${path}.${name}`, reason: 'has more than one choice type' });
    return;
  }
  for (const key of keys) {
    asList(node[key]).forEach((child, index) => {
      const childPath = Array.isArray(node[key]) ? `${path}.${key}[${index}]` : `${path}.${key}`;
      if (isRecordObject(child)) checkRequired(child, rest, childPath, issues);
    });
  }
};

const checkCodes = (
  node: JsonRecord,
  segments: readonly string[],
  allowed: readonly string[],
  path: string,
  issues: FhirShapeIssue[],
) => {
  const [name, ...rest] = segments;
  if (name === undefined || !(name in node)) return;
  const value = node[name];
  asList(value).forEach((child, index) => {
    const childPath = Array.isArray(value) ? `${path}.${name}[${index}]` : `${path}.${name}`;
    if (rest.length > 0) {
      if (isRecordObject(child)) checkCodes(child, rest, allowed, childPath, issues);
    } else if (typeof child !== 'string' || !allowed.includes(child)) {
      issues.push({ path: childPath, reason: `must be one of ${allowed.join(', ')}` });
    }
  });
};

/** Empty values, extension shape, and every `reference` string found (with its path). */
/** A reference met in the bundle: where, as written, as resolved, and whether it names a contained resource. */
interface FoundReference {
  readonly path: string;
  readonly reference: string;
  resolved?: string;
  local?: boolean;
}

const walk = (value: unknown, path: string, issues: FhirShapeIssue[], references: FoundReference[]): void => {
  if (value === null || value === undefined) {
    issues.push({ path, reason: 'must not be null' });
  } else if (typeof value === 'string') {
    if (value.trim() === '') issues.push({ path, reason: 'must not be empty' });
    else if (FHIR_FORBIDDEN_CONTROL_RE.test(value)) {
      issues.push({ path, reason: 'must not hold control characters other than tab, CR and LF' });
    }
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) issues.push({ path, reason: 'must be a finite number' });
  } else if (Array.isArray(value)) {
    if (value.length === 0) issues.push({ path, reason: 'must not be an empty array' });
    value.forEach((item, index) => walk(item, `${path}[${index}]`, issues, references));
  } else if (isRecordObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) issues.push({ path, reason: 'must not be an empty object' });
    if (typeof value.reference === 'string')
      references.push({ path: `${path}.reference`, reference: value.reference });
    for (const key of ['extension', 'modifierExtension']) {
      asList(value[key]).forEach((ext, index) => {
        if (!isRecordObject(ext)) return;
        const extPath = `${path}.${key}[${index}]`;
        // A complex extension's parts are named by plain names (R4 extensibility.html#complex).
        const nested = /\.(?:modifierE|e)xtension\[\d+\]$/.test(path);
        if (typeof ext.url !== 'string' || !(nested ? /^\S+$/ : /^[a-z][a-z0-9+.-]*:/).test(ext.url)) {
          issues.push({
            path: `${extPath}.url`,
            reason: nested ? 'must be a name' : 'must be an absolute URI',
          });
        }
        const values = Object.keys(ext).filter((k) => /^value[A-Z]/.test(k)).length;
        const parts = ext.extension !== undefined;
        if ((values === 1) === parts || values > 1) {
          issues.push({
            path: extPath,
            reason: 'must have exactly one value[x] or nested extensions, not both',
          });
        }
      });
    }
    for (const key of keys) walk(value[key], `${path}.${key}`, issues, references);
  } else if (typeof value !== 'boolean') {
    issues.push({ path, reason: 'is not JSON' });
  }
};

// R4 Signature: type 1..* Coding, when 1..1 instant, who 1..1 Reference; sigFormat/targetFormat are MIME
// codes and data base64Binary when present.
const MIME_TYPE_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(?:;.*)?$/i;

const checkSignature = (signature: unknown, issues: FhirShapeIssue[], references: FoundReference[]) => {
  const path = 'signature';
  if (!isRecordObject(signature)) {
    issues.push({ path, reason: 'must be an object' });
    return;
  }
  const { type, when, who, sigFormat, targetFormat, data } = signature;
  if (!Array.isArray(type) || type.length === 0) {
    issues.push({ path: `${path}.type`, reason: 'is required (at least one Coding)' });
  } else {
    type.forEach((coding: unknown, index) => {
      if (!isRecordObject(coding) || typeof coding.code !== 'string' || typeof coding.system !== 'string') {
        issues.push({ path: `${path}.type[${index}]`, reason: 'must be a Coding with system and code' });
      }
    });
  }
  if (typeof when !== 'string' || !isFhirInstant(when)) {
    issues.push({ path: `${path}.when`, reason: 'is required (an instant)' });
  }
  if (!isRecordObject(who) || (who.reference === undefined && who.identifier === undefined)) {
    issues.push({ path: `${path}.who`, reason: 'is required (a Reference)' });
  }
  for (const [name, value] of [
    ['sigFormat', sigFormat],
    ['targetFormat', targetFormat],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || !MIME_TYPE_RE.test(value))) {
      issues.push({ path: `${path}.${name}`, reason: 'must be a MIME type' });
    }
  }
  if (data !== undefined && (typeof data !== 'string' || !base64.test(data))) {
    issues.push({ path: `${path}.data`, reason: 'must be base64Binary' });
  }
  walk(signature, path, issues, references);
};

/**
 * A reference split into the fullUrl it names and the version (`…/_history/{vid}`, vid a FHIR id), or
 * undefined when it has a `/_history` part of any other form: an empty or ill-formed version, or more path
 * after it. Such a reference is refused as malformed rather than looked up whole, so its refusal does not
 * hang on no entry happening to carry that string as its fullUrl.
 */
const splitVersion = (reference: string): { url: string; version?: string } | undefined => {
  const mark = HISTORY_SEGMENT_RE.exec(reference);
  if (mark === null) return { url: reference };
  const version = reference.slice(mark.index + mark[0].length + 1);
  return FHIR_ID_RE.test(version) ? { url: reference.slice(0, mark.index), version } : undefined;
};

const fullUrlMatches = (fullUrl: string, resourceType: string, id: string): boolean =>
  fullUrl.startsWith('urn:uuid:') ||
  fullUrl.startsWith('urn:oid:') ||
  fullUrl.endsWith(`${resourceType}/${id}`);

/**
 * A minimal structural check of a FHIR R4 Bundle, enough to catch mapping mistakes: every entry has a
 * fullUrl consistent with its resource's type and id, the elements R4 requires for the resource types
 * Hale exports, codes from the required value sets Hale uses, no empty values, well-formed extensions,
 * unique fullUrls (or distinct `meta.versionId`s, bdl-7), and every `reference` resolving to an entry's
 * fullUrl (a version-specific one, `{fullUrl}/_history/{version}`, to the entry of that fullUrl whose
 * `meta.versionId` is that version; any other `/_history` form is refused), and a `signature`, when
 * present, with R4's required elements (type, when, who) and well-formed formats and data, its
 * `who.reference` resolving like any other. Not a full FHIR validator, nor a signature check.
 */
export const validateFhirBundleShape = (
  bundle: unknown,
): Result<{ readonly entries: number }, FhirShapeInvalid> => {
  const issues: FhirShapeIssue[] = [];
  const references: FoundReference[] = [];
  if (!isRecordObject(bundle) || bundle.resourceType !== 'Bundle') {
    issues.push({ path: 'resourceType', reason: 'must be Bundle' });
  } else {
    if (typeof bundle.type !== 'string' || !BUNDLE_TYPES.includes(bundle.type)) {
      issues.push({ path: 'type', reason: `must be one of ${BUNDLE_TYPES.join(', ')}` });
    }
    if (
      bundle.timestamp !== undefined &&
      (typeof bundle.timestamp !== 'string' || !isFhirInstant(bundle.timestamp))
    ) {
      issues.push({ path: 'timestamp', reason: 'must be an instant' });
    }
    if (bundle.signature !== undefined) checkSignature(bundle.signature, issues, references);
    const entries = bundle.entry === undefined ? [] : bundle.entry;
    if (!Array.isArray(entries)) issues.push({ path: 'entry', reason: 'must be an array' });
    const fullUrls = new Map<string, (string | undefined)[]>();
    (Array.isArray(entries) ? entries : []).forEach((entry: unknown, index) => {
      const path = `entry[${index}]`;
      if (!isRecordObject(entry)) {
        issues.push({ path, reason: 'must be an object' });
        return;
      }
      const { fullUrl, resource } = entry;
      if (typeof fullUrl !== 'string' || !/^[a-z][a-z0-9+.-]*:\S+$/.test(fullUrl)) {
        issues.push({ path: `${path}.fullUrl`, reason: 'must be an absolute URI' });
      } else if (fullUrl.includes('/_history/')) {
        issues.push({ path: `${path}.fullUrl`, reason: 'must not be version specific' });
      }
      if (!isRecordObject(resource)) {
        issues.push({ path: `${path}.resource`, reason: 'is required' });
        return;
      }
      const { resourceType, id } = resource;
      const resourcePath = `${path}.resource`;
      if (
        typeof resourceType !== 'string' ||
        !(resourceType in REQUIRED_ELEMENTS || resourceType in KIND_FHIR_SHAPES)
      ) {
        issues.push({ path: `${resourcePath}.resourceType`, reason: 'is not a resource type Hale exports' });
        return;
      }
      if (typeof id !== 'string' || !FHIR_ID_RE.test(id)) {
        issues.push({ path: `${resourcePath}.id`, reason: 'must be a FHIR id ([A-Za-z0-9.-]{1,64})' });
      } else if (typeof fullUrl === 'string' && !fullUrlMatches(fullUrl, resourceType, id)) {
        issues.push({ path: `${path}.fullUrl`, reason: `does not name ${resourceType}/${id}` });
      }
      if (typeof fullUrl === 'string') {
        const metaValue = resource.meta;
        const versionId =
          isRecordObject(metaValue) && typeof metaValue.versionId === 'string'
            ? metaValue.versionId
            : undefined;
        fullUrls.set(fullUrl, [...(fullUrls.get(fullUrl) ?? []), versionId]);
      }
      const kindShape = KIND_FHIR_SHAPES[resourceType];
      for (const element of REQUIRED_ELEMENTS[resourceType] ?? kindShape?.required ?? []) {
        checkRequired(resource, element.split('.'), resourcePath, issues);
      }
      for (const [element, allowed] of Object.entries(
        CODE_ELEMENTS[resourceType] ?? kindShape?.codes ?? {},
      )) {
        checkCodes(resource, element.split('.'), allowed, resourcePath, issues);
      }
      const before = references.length;
      walk(resource, resourcePath, issues, references);
      // `#id` names a resource of this one's `contained` (R4 references.html#contained).
      const contained = new Set(
        asList(resource.contained).flatMap((c) =>
          isRecordObject(c) && typeof c.id === 'string' ? [c.id] : [],
        ),
      );
      for (let i = before; i < references.length; i++) {
        const found = references[i];
        if (found?.reference.startsWith('#') !== true) continue;
        found.local = true;
        if (!contained.has(found.reference.slice(1)))
          issues.push({ path: found.path, reason: `${found.reference} names no contained resource` });
      }
      // Relative references resolve against this entry's fullUrl when it is RESTful (fhir-references.ts).
      if (typeof fullUrl === 'string') {
        for (let i = before; i < references.length; i++) {
          const found = references[i];
          if (found !== undefined) found.resolved = resolveReference(found.reference, fullUrl);
        }
      }
    });
    for (const [fullUrl, versions] of fullUrls) {
      if (
        versions.length > 1 &&
        (versions.includes(undefined) || new Set(versions).size !== versions.length)
      ) {
        issues.push({
          path: 'entry',
          reason: `${fullUrl} appears more than once without distinct meta.versionId`,
        });
      }
    }
    for (const { path, reference, resolved, local } of references) {
      if (local === true) continue;
      const named = splitVersion(resolved ?? reference);
      const versions = named === undefined ? undefined : fullUrls.get(named.url);
      if (named === undefined) {
        issues.push({
          path,
          reason: `${reference} is not a literal reference {fullUrl} or {fullUrl}/_history/{version} (a FHIR id)`,
        });
      } else if (versions === undefined) {
        issues.push({ path, reason: `${reference} does not resolve to an entry of the bundle` });
      } else if (named.version !== undefined && !versions.includes(named.version)) {
        // The version is what a version-specific reference asserts (a signature, an acknowledgement of
        // that exact text): resolving it to another version of the resource would misstate it.
        issues.push({
          path,
          reason: `${reference} names a version no entry of ${named.url} has (meta.versionId)`,
        });
      }
    }
  }
  if (issues.length === 0) {
    return {
      ok: true,
      value: { entries: isRecordObject(bundle) && Array.isArray(bundle.entry) ? bundle.entry.length : 0 },
    };
  }
  const reported = issues.slice(0, MAX_SHAPE_ISSUES);
  return {
    ok: false,
    error: {
      code: 'FHIR_SHAPE_INVALID',
      message: `Bundle is not valid FHIR: ${reported
        .slice(0, 5)
        .map((issue) => `${issue.path}: ${issue.reason}`)
        .join('; ')}${issues.length > 5 ? ` (+${issues.length - 5} more)` : ''}`,
      issues: reported,
    },
  };
};
