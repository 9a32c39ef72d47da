/*
 * FHIR export: notes and their versions and signatures, consents, audit entries, provider profiles.
 * The export's invariants and failure modes: fhir.ts.
 */
import type {
  AuditEntry,
  Consent,
  MedicalNote,
  NoteSignature,
  NoteVersion,
  ProviderProfile,
} from './record-schemas';
import type { StreamType } from './stream-types';
import {
  LOINC,
  V3_ACT_CODE,
  V3_PARTICIPATION,
  V3_DATA_OPERATION,
  PROVENANCE_PARTICIPANT,
  SIGNATURE_TYPE,
  DICOM,
  type DraftObject,
  makeResource,
  fhirDateTime,
  text,
  coding,
  haleIdentifier,
  versionRef,
  extension,
  stringExt,
  dateTimeExt,
  meta,
  telecom,
  address,
  narrative,
  type Exporter,
  authorSignature,
  HALE_CODE_SYSTEM_BASE,
  HALE_ID_SYSTEM,
  HALE_ACCOUNT_SYSTEM,
  HALE_DEVICE_SYSTEM,
  HALE_STREAM_SYSTEM,
  fhirId,
  fhirFullUrl,
} from './fhir-draft';
import {
  CONSENT_ACTIONS,
  CONSENT_STATUS,
  GENERIC_NOTE_TYPE,
  NOTE_STATUS,
  NOTE_TYPE,
  SIGNATURE_STATUS_TASK,
  SOAP_SECTIONS,
  SYNC_SERVER_DEVICE_ID,
} from './fhir-mappings';

export interface NoteEntry {
  readonly record: NoteVersion;
  readonly signature: string | undefined;
}

export interface NoteGroup {
  note?: { record: MedicalNote; signature: string | undefined };
  /** The version each number exports as: `Composition/{noteId}/_history/{number}`. */
  readonly versions: Map<number, NoteEntry>;
  /**
   * Versions written concurrently under a number already taken (two clinicians amending the same
   * version offline). Each exports as a Composition of its own id, linked both ways to the numbered one.
   */
  readonly concurrent: Map<number, NoteEntry[]>;
}

export const signedKey = (noteId: string, version: number) => `${noteId}/${version}`;
/** Signatures of a concurrent version attach to it by its id: it has no number of its own in the history. */
export const concurrentKey = (noteVersionId: string) => `concurrent/${noteVersionId}`;

const concurrentExt = (reference: string) =>
  extension('concurrent-version', { valueReference: { reference } });

const noteVersionProvenance = (x: Exporter, entry: NoteEntry, target: string): void => {
  const version = entry.record;
  x.add(
    makeResource('Provenance', version.id, {
      meta: meta(version.updatedAt),
      target: [{ reference: target }],
      recorded: fhirDateTime(version.createdAt),
      reason: [text(version.amendmentReason)],
      activity: {
        coding: [
          coding(
            V3_DATA_OPERATION,
            version.kind === 'original' ? 'CREATE' : version.kind === 'amendment' ? 'UPDATE' : 'APPEND',
          ),
        ],
        text: version.changeSummary,
      },
      agent: [
        {
          type: { coding: [coding(PROVENANCE_PARTICIPANT, 'author', 'Author')] },
          who: x.person(version.editorId),
        },
      ],
      signature: [
        entry.signature === undefined
          ? undefined
          : authorSignature(version.createdAt, x.person(version.editorId), entry.signature),
      ],
    }),
  );
};

export const exportNote = (
  x: Exporter,
  noteId: string,
  group: NoteGroup,
  signedBy: ReadonlyMap<string, readonly NoteSignature[]>,
): void => {
  const note = group.note?.record;
  const historyUrl = (number: number) => `${fhirFullUrl('Composition', noteId)}/_history/${number}`;
  // The numbers exported as Composition versions: the versions given and the note's current one.
  const numbers = new Set(group.versions.keys());
  if (note !== undefined) numbers.add(note.currentVersionNumber);
  const type = note === undefined ? GENERIC_NOTE_TYPE : NOTE_TYPE[note.noteType];
  const authorId = (version: NoteVersion | undefined) => note?.authorId ?? version?.editorId;
  // What a numbered version and a concurrent one under the same number have alike.
  const body = (version: NoteVersion | undefined, number: number, signatures: readonly NoteSignature[]) => {
    const author = authorId(version);
    const relation =
      version === undefined || number === 1
        ? undefined
        : version.kind === 'amendment'
          ? 'replaces'
          : version.kind === 'addendum'
            ? 'appends'
            : undefined;
    return {
      type: { coding: [coding(LOINC, type.code, type.display)] },
      subject: x.patient,
      encounter: note?.encounterId === undefined ? undefined : x.recordRef('Encounter', note.encounterId),
      date: fhirDateTime(version?.createdAt ?? note?.updatedAt),
      author: [author === undefined ? undefined : x.person(author)],
      title: note !== undefined && note.title.trim() !== '' ? note.title : `Clinical note, version ${number}`,
      attester: signatures.map((s) => ({
        mode: s.signerRole === 'author' || s.signerId === note?.authorId ? 'legal' : 'professional',
        time: fhirDateTime(s.signedAt),
        party: x.person(s.signerId),
      })),
      relatesTo: [
        relation === undefined
          ? undefined
          : {
              code: relation,
              // The version before may not be exported (this device holds no copy of it).
              targetReference: versionRef(
                'Composition',
                noteId,
                'MedicalNote',
                number - 1,
                numbers.has(number - 1),
              ),
            },
      ],
      section: SOAP_SECTIONS.map((section) => {
        const value = version?.[section.field];
        return value === undefined || value.trim() === ''
          ? undefined
          : {
              title: section.title,
              code: { coding: [coding(LOINC, section.code, section.title)] },
              text: narrative(value),
            };
      }),
    };
  };
  const requiresCosign =
    note?.requiresCosign === undefined
      ? undefined
      : extension('requires-cosign', { valueBoolean: note.requiresCosign });

  for (const number of [...numbers].sort((a, b) => a - b)) {
    const entry = group.versions.get(number);
    const version = entry?.record;
    const isCurrent = note !== undefined && note.currentVersionNumber === number;
    const signatures = signedBy.get(signedKey(noteId, number)) ?? [];
    const concurrent = group.concurrent.get(number) ?? [];
    // A version that was signed, or that a later version amends, was final at the time.
    const amendedLater = group.versions.get(number + 1)?.record.kind === 'amendment';
    const status = isCurrent
      ? NOTE_STATUS[note.status]
      : signatures.length > 0 || amendedLater
        ? 'final'
        : 'preliminary';
    const lastUpdated = isCurrent ? note.updatedAt : (version?.updatedAt ?? note?.updatedAt ?? '');
    x.add(
      makeResource('Composition', noteId, {
        meta: meta(lastUpdated, number),
        extension: [
          requiresCosign,
          dateTimeExt('created-at', note?.createdAt),
          isCurrent ? stringExt('author-signature', group.note?.signature) : undefined,
          ...concurrent.map((other) => concurrentExt(fhirFullUrl('Composition', other.record.id))),
        ],
        identifier: haleIdentifier(noteId),
        status,
        ...body(version, number, signatures),
      }),
    );
    if (entry !== undefined) noteVersionProvenance(x, entry, historyUrl(number));
    for (const other of concurrent) {
      const otherSignatures = signedBy.get(concurrentKey(other.record.id)) ?? [];
      x.add(
        makeResource('Composition', other.record.id, {
          meta: meta(other.record.updatedAt),
          extension: [requiresCosign, concurrentExt(historyUrl(number))],
          identifier: haleIdentifier(other.record.id),
          status: otherSignatures.length > 0 ? 'final' : 'preliminary',
          ...body(other.record, number, otherSignatures),
        }),
      );
      noteVersionProvenance(x, other, fhirFullUrl('Composition', other.record.id));
    }
  }
};

export const exportNoteSignature = (
  x: Exporter,
  r: NoteSignature,
  signature: string | undefined,
  noteTarget: (noteId: string, version: number | undefined, noteVersionId: string) => DraftObject,
  versionNumberOf: (noteVersionId: string) => number | undefined,
): void => {
  const common = {
    meta: meta(r.updatedAt),
    extension: [
      extension('note-version-id', { valueId: r.noteVersionId }),
      dateTimeExt('created-at', r.createdAt),
    ],
  };
  if (r.status === 'signed') {
    const signer = x.person(r.signerId);
    const signedAt = r.signedAt ?? r.updatedAt;
    x.add(
      makeResource('Provenance', r.id, {
        ...common,
        extension: [
          ...common.extension,
          stringExt('note', r.comment),
          dateTimeExt('requested-at', r.requestedAt),
          r.requestedBy === undefined
            ? undefined
            : extension('requested-by', { valueReference: x.person(r.requestedBy) }),
        ],
        target: [
          noteTarget(r.noteId, r.signedVersionNumber ?? versionNumberOf(r.noteVersionId), r.noteVersionId),
        ],
        recorded: fhirDateTime(signedAt),
        activity: { text: 'signed' },
        agent: [
          {
            type: { coding: [coding(PROVENANCE_PARTICIPANT, 'attester', 'Attester')] },
            role: [text(r.signerRole)],
            who: signer,
          },
        ],
        // Only with the signature itself (`data`): a signature element without one would show a viewer an
        // ASTM-typed signature by the signer where there is only the record's claim (data-model.md).
        signature:
          signature === undefined
            ? undefined
            : [
                {
                  type: [
                    r.signerRole === 'author'
                      ? coding(SIGNATURE_TYPE, '1.2.840.10065.1.12.1.1', "Author's Signature")
                      : coding(SIGNATURE_TYPE, '1.2.840.10065.1.12.1.5', 'Verification Signature'),
                  ],
                  when: fhirDateTime(signedAt),
                  who: signer,
                  data: signature,
                },
              ],
      }),
    );
    return;
  }
  x.add(
    makeResource('Task', r.id, {
      ...common,
      extension: [...common.extension, stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: SIGNATURE_STATUS_TASK[r.status],
      intent: 'order',
      code: { coding: [coding(`${HALE_CODE_SYSTEM_BASE}task`, 'sign', 'Sign note')] },
      focus: noteTarget(r.noteId, versionNumberOf(r.noteVersionId), r.noteVersionId),
      for: x.patient,
      authoredOn: fhirDateTime(r.requestedAt),
      requester: r.requestedBy === undefined ? undefined : x.person(r.requestedBy),
      owner: x.person(r.signerId),
      note: [text(r.comment)],
    }),
  );
};

/** `streamResources`: the resource types a stream's records export as (its provision's classes). */
export const exportConsent = (
  x: Exporter,
  r: Consent,
  signature: string | undefined,
  streamResources: (type: Exclude<StreamType, 'audit'>) => readonly string[],
): void => {
  x.add(
    makeResource('Consent', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('revoked-at', r.revokedAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: CONSENT_STATUS[r.status],
      scope: {
        coding: [
          coding('http://terminology.hl7.org/CodeSystem/consentscope', 'patient-privacy', 'Privacy Consent'),
        ],
      },
      category: [{ coding: [coding(LOINC, '59284-0', 'Patient Consent')] }],
      patient: x.patient,
      dateTime: fhirDateTime(r.createdAt),
      performer: [r.grantedBy === undefined ? x.patient : x.person(r.grantedBy)],
      policyRule: { coding: [coding(V3_ACT_CODE, 'OPTIN', 'opt-in')] },
      // Deny-by-default for the grantee, with one permit per granted stream.
      provision: {
        type: 'deny',
        period: { start: fhirDateTime(r.startsAt), end: fhirDateTime(r.expiresAt) },
        actor: [
          {
            role: { coding: [coding(V3_PARTICIPATION, 'IRCP', 'information recipient')] },
            reference: x.person(r.granteeId),
          },
        ],
        purpose: [r.purpose === undefined ? undefined : { display: r.purpose }],
        provision: r.scope.map((item) => ({
          type: 'permit',
          action: CONSENT_ACTIONS[item.access].map((code) => ({
            coding: [coding('http://terminology.hl7.org/CodeSystem/consentaction', code)],
          })),
          class: streamResources(item.type).map((resourceType) =>
            coding('http://hl7.org/fhir/resource-types', resourceType),
          ),
        })),
      },
    }),
  );
};

const auditAction = (action: string): string => {
  const verb = action.slice(action.lastIndexOf('.') + 1);
  switch (verb) {
    case 'create':
      return 'C';
    case 'view':
    case 'pull':
      return 'R';
    case 'update':
      return 'U';
    case 'delete':
      return 'D';
    default:
      return 'E';
  }
};

const FHIR_CODE_RE = /^[^\s]+( [^\s]+)*$/;

export const exportAuditEntry = (x: Exporter, r: AuditEntry, signature: string | undefined): void => {
  const what: DraftObject = x.isRecordKind(r.entityType)
    ? x.recordRef(r.entityType, r.entityId)
    : {
        identifier: {
          system:
            r.entityType === 'Stream'
              ? HALE_STREAM_SYSTEM
              : r.entityType === 'Device'
                ? HALE_DEVICE_SYSTEM
                : HALE_ID_SYSTEM,
          value: r.entityId,
        },
        display: `${r.entityType} ${r.entityId}`,
      };
  const metadata = Object.entries(r.metadata ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({
      type: key,
      // Non-empty strings as written; numbers, booleans, null and "" as JSON so none turns into nothing.
      valueString: typeof value === 'string' && value.trim() !== '' ? value : JSON.stringify(value),
    }));
  x.add(
    makeResource('AuditEvent', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      type: r.action.startsWith('export.')
        ? coding(DICOM, '110106', 'Export')
        : coding(DICOM, '110110', 'Patient Record'),
      subtype: [coding(`${HALE_CODE_SYSTEM_BASE}audit-action`, r.action)],
      action: auditAction(r.action),
      recorded: fhirDateTime(r.at),
      agent: [{ who: x.person(r.actorId), requestor: true }],
      source: { observer: x.device(r.actorDeviceId ?? SYNC_SERVER_DEVICE_ID) },
      entity: [
        {
          what,
          type: FHIR_CODE_RE.test(r.entityType)
            ? coding(`${HALE_CODE_SYSTEM_BASE}entity-type`, r.entityType)
            : { display: r.entityType },
          description: r.summary,
          detail: [
            r.streamType === undefined ? undefined : { type: 'hale-stream', valueString: r.streamType },
            ...metadata.filter((detail) => detail.type.trim() !== ''),
          ],
        },
      ],
    }),
  );
};

export const exportProviderProfile = (
  x: Exporter,
  r: ProviderProfile,
  signature: string | undefined,
): void => {
  const practitionerId = fhirId(r.accountId);
  x.add(
    makeResource('Practitioner', practitionerId, {
      meta: meta(r.updatedAt),
      identifier: [
        { system: HALE_ACCOUNT_SYSTEM, value: r.accountId },
        r.identifier === undefined ? undefined : { system: r.identifier.system, value: r.identifier.value },
      ],
      name: [text(r.displayName)],
      address: address(r.contact),
    }),
  );
  x.add(
    makeResource('PractitionerRole', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      practitioner: { reference: fhirFullUrl('Practitioner', practitionerId), display: r.displayName },
      organization: r.clinic === undefined ? undefined : { display: r.clinic },
      specialty: [text(r.specialty)],
      telecom: telecom(r.contact),
    }),
  );
};
