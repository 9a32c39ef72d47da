/*
 * Rules between two states of one record, which `validateRecord` (one state) cannot express: what a
 * later version may change, and which fields must name the account writing it.
 *
 * Invariants. History is append-only: a record kind that keeps its earlier versions inside itself
 * (VERSIONED_KINDS) changes its content only by becoming the next version — `version` + 1, the previous
 * state appended to `versions` exactly as it was (`supersededVersion`), and, with a writer given, a
 * provenance or uploader naming that writer; earlier entries never change or go. A signed NoteSignature
 * never changes, nor does a Message's content (all but its delivery: `status`, `deliveredAt`, `readAt`),
 * and its delivery only moves on (sent, delivered, read; a receipt time once set stays) and is moved by
 * its recipient only (written by anyone else, a message is sent: status `sent`, no receipt times). A
 * TreatmentPlan's acknowledgement names the plan version it acknowledged; it is replaced only by one for
 * the same or a later version, never removed. A MedicalNote's current version number never decreases, and a signed or amended note becomes a draft (or under review) again only with
 * a new current version, so signed text is never a draft again. Fields naming who wrote, edited, signed,
 * sent, uploaded or acknowledged (`provenance.by`/`deviceId`, `editorId`, `authorId`, `signerId`,
 * `requestedBy`, `senderId`, `uploadedBy`, `acknowledgement.by`) must name the writer when they are set
 * or changed by that write; fields naming other people (a prescriber, the clinician seen, the patient's
 * primary care provider) are what the writer says and are not checked.
 *
 * Between a state and a later one with versions in between (`laterStateIssues`: a device that was
 * offline receives only the newest), the rules above hold as they compose: a versioned record's history
 * keeps every earlier entry, holds the earlier state's version as it was when its version grew, and grows
 * by one entry per version; the other `final` rules hold between any two states. Author rules do not
 * compose (a field set by a version in between names that version's writer), so they are not checked.
 *
 * Failure modes. Nothing throws: `transitionIssues` returns the broken rules, each naming its field and
 * whether the change touches what is final (`final`) or names someone other than the writer (`author`).
 * Both states must already be valid records of the kind (`validateRecord`). Without a writer only the
 * `final` rules are checked. Rules that need other records (a NoteVersion is final once a signature
 * signs it, or once its note is no longer a draft) are not here: they belong to whoever holds those
 * records (the client's records API).
 */
import { DocumentVersionSchema, LabResultVersionSchema, TreatmentPlanVersionSchema } from './record-schemas';
import type { ValidationIssue } from './errors';
import type { RecordKind, RecordOf } from './registry';

/** Who writes a version: an account and, when known, its device. */
export interface Writer {
  readonly accountId: string;
  readonly deviceId?: string;
}

export interface TransitionIssue extends ValidationIssue {
  /** `final`: changes what may no longer change. `author`: names someone other than the writer. */
  readonly rule: 'final' | 'author';
}

/** Kinds that keep their earlier versions inside the record (`version`, `versions`). */
export const VERSIONED_KINDS = ['HealthDocument', 'LabResult', 'TreatmentPlan'] as const;
export type VersionedKind = (typeof VERSIONED_KINDS)[number];

export const isVersionedKind = (kind: string): kind is VersionedKind =>
  (VERSIONED_KINDS as readonly string[]).includes(kind);

type Json = Readonly<Record<string, unknown>>;

const isJsonObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * JSON equality: key order does not count, and a property holding `undefined` counts as absent (JSON
 * drops it, so a stored copy never has it).
 */
export const sameJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => sameJson(item, b[i]))
    );
  }
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = (o: Json) => Object.keys(o).filter((key) => o[key] !== undefined);
  const [ka, kb] = [keys(a), keys(b)];
  return ka.length === kb.length && ka.every((key) => sameJson(a[key], b[key]));
};

const STORE_FIELDS: ReadonlySet<string> = new Set(['id', 'patientId', 'createdAt', 'updatedAt']);

/**
 * Fields of a versioned kind that are not the content of its current version: the history itself, what
 * describes the current version (its provenance or upload), and a plan's acknowledgement (the patient's,
 * about one version). Everything else is content, except for a HealthDocument, whose versions are files.
 */
const NOT_CONTENT: { readonly [K in VersionedKind]: ReadonlySet<string> } = {
  HealthDocument: new Set(['version', 'versions', 'uploadedAt', 'uploadedBy']),
  LabResult: new Set(['version', 'versions', 'provenance']),
  TreatmentPlan: new Set(['version', 'versions', 'provenance', 'acknowledgement']),
};

/** What a version of `kind` is made of: every field a change of which makes a new version. */
const contentFields = (kind: VersionedKind, a: Json, b: Json): string[] => {
  // A document's title, description or tags are edited in place; only a new file is a new version
  // (DocumentVersion keeps the file alone).
  if (kind === 'HealthDocument') return ['file'];
  const skip = NOT_CONTENT[kind];
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (key) => !STORE_FIELDS.has(key) && !skip.has(key),
  );
};

/** Whether going from `previous` to `next` changes the content of a version of `kind`. */
export const versionContentChanged = (kind: VersionedKind, previous: Json, next: Json): boolean =>
  contentFields(kind, previous, next).some((key) => !sameJson(previous[key], next[key]));

const ENTRY_FIELDS: { readonly [K in VersionedKind]: readonly string[] } = {
  HealthDocument: Object.keys(DocumentVersionSchema.properties),
  LabResult: Object.keys(LabResultVersionSchema.properties),
  TreatmentPlan: Object.keys(TreatmentPlanVersionSchema.properties),
};

/**
 * The entry `record` becomes in `versions` once superseded: the fields of the kind's version schema
 * that the record holds (for a HealthDocument: version, file, uploadedAt, uploadedBy).
 */
export const supersededVersion = (kind: VersionedKind, record: Json): Record<string, unknown> => {
  const entry: Record<string, unknown> = {};
  for (const key of ENTRY_FIELDS[kind]) {
    if (record[key] !== undefined) entry[key] = record[key];
  }
  return entry;
};

const final = (field: string, reason: string): TransitionIssue => ({ field, reason, rule: 'final' });

/** `value` must be the writer's account (when a writer is given and the field is set). */
const byWriter = (value: string | undefined, field: string, writer: Writer | undefined): TransitionIssue[] =>
  writer !== undefined && value !== undefined && value !== writer.accountId
    ? [{ field, rule: 'author', reason: `must be the account writing it (${writer.accountId})` }]
    : [];

const onWriterDevice = (value: string, field: string, writer: Writer | undefined): TransitionIssue[] =>
  writer?.deviceId !== undefined && value !== writer.deviceId
    ? [{ field, rule: 'author', reason: `must be the device writing it (${writer.deviceId})` }]
    : [];

type Provenanced = RecordOf<'LabResult'> | RecordOf<'TreatmentPlan'>;
type Versioned = Provenanced | RecordOf<'HealthDocument'>;

/** Authors named by a version `writer` writes: the current one, and on creation every earlier one. */
const versionAuthors = (
  record: Versioned,
  writer: Writer | undefined,
  created: boolean,
): TransitionIssue[] => {
  const issues: TransitionIssue[] = [];
  if ('provenance' in record) {
    issues.push(
      ...byWriter(record.provenance.by, 'provenance.by', writer),
      ...onWriterDevice(record.provenance.deviceId, 'provenance.deviceId', writer),
    );
  } else {
    issues.push(...byWriter(record.uploadedBy, 'uploadedBy', writer));
  }
  if (!created) return issues;
  // A record is created with a history only by the writer stating it: no earlier Hale version existed.
  for (const [i, entry] of record.versions.entries()) {
    if ('provenance' in entry) {
      issues.push(
        ...byWriter(entry.provenance.by, `versions[${i}].provenance.by`, writer),
        ...onWriterDevice(entry.provenance.deviceId, `versions[${i}].provenance.deviceId`, writer),
      );
    } else if ('uploadedBy' in entry) {
      issues.push(...byWriter(entry.uploadedBy, `versions[${i}].uploadedBy`, writer));
    }
  }
  return issues;
};

/** The fields that describe the current version rather than being its content. */
const describing = (record: Versioned): Json =>
  'provenance' in record
    ? { provenance: record.provenance }
    : { uploadedAt: record.uploadedAt, uploadedBy: record.uploadedBy };

/** The first field (top level) whose value differs between `a` and `b`, leaving out `skip`. */
const changedField = (a: Json, b: Json, skip: ReadonlySet<string> = new Set()): string | undefined =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].find(
    (key) => !skip.has(key) && !sameJson(a[key], b[key]),
  );

/**
 * `next` is `previous` some versions later (`span`): every version since is in the history, the first of
 * them `previous`'s as it was. What lies between cannot be checked from these two states.
 */
const spanIssues = (kind: VersionedKind, previous: Versioned, next: Versioned): TransitionIssue[] => {
  const kept = previous.versions.length;
  if (next.version < previous.version) {
    return [final('version', `must not go back before ${previous.version}`)];
  }
  if (next.versions.length - kept !== next.version - previous.version) {
    return [final(`versions[${kept}]`, `must hold every version since ${previous.version}`)];
  }
  if (!sameJson(next.versions[kept], supersededVersion(kind, previous))) {
    return [final(`versions[${kept}]`, `must be version ${previous.version} as it was`)];
  }
  return [];
};

/** History kept, and a change of content made the next version (or, `span`, later versions). */
const historyIssues = (
  kind: VersionedKind,
  previous: Versioned,
  next: Versioned,
  writer: Writer | undefined,
  span: boolean,
): TransitionIssue[] => {
  for (const [i, entry] of previous.versions.entries()) {
    if (!sameJson(next.versions[i], entry)) {
      return [final(`versions[${i}]`, 'is an earlier version: it cannot be changed or removed')];
    }
  }
  const kept = previous.versions.length;
  // Under one version number the content and what describes it stay as they were, however many writes
  // lie between: the rules of a single write hold.
  if (span && next.version !== previous.version) return spanIssues(kind, previous, next);
  if (!versionContentChanged(kind, previous, next)) {
    if (next.version !== previous.version) {
      return [final('version', `changes only with the content (still ${previous.version})`)];
    }
    if (next.versions.length !== kept) {
      return [final(`versions[${kept}]`, 'is not a version this record had')];
    }
    const [was, is] = [describing(previous), describing(next)];
    const field = changedField(was, is);
    if (field === undefined) return [];
    // An author field this write set to someone else is reported as that, not as final: the records API
    // fills it when left out. One the write left alone names whoever wrote the version, not this writer.
    const authors = versionAuthors(next, writer, false).filter((issue) => {
      const [top = issue.field] = issue.field.split('.');
      return !sameJson(was[top], is[top]);
    });
    return authors.length > 0
      ? authors
      : [final(field, `describes version ${previous.version}, whose content did not change`)];
  }
  if (next.version !== previous.version + 1) {
    return [final('version', `must be ${previous.version + 1}: a change of content is the next version`)];
  }
  if (
    next.versions.length !== kept + 1 ||
    !sameJson(next.versions[kept], supersededVersion(kind, previous))
  ) {
    return [final(`versions[${kept}]`, `must be version ${previous.version} as it was`)];
  }
  return versionAuthors(next, writer, false);
};

type Transition<K extends RecordKind> = (
  previous: RecordOf<K> | null,
  next: RecordOf<K>,
  writer: Writer | undefined,
  span: boolean,
) => TransitionIssue[];

const changed = (a: unknown, b: unknown): boolean => !sameJson(a, b);

const UPDATED_AT: ReadonlySet<string> = new Set(['updatedAt']);
/** What a later state of a sent message may change. */
const MESSAGE_DELIVERY: ReadonlySet<string> = new Set(['updatedAt', 'status', 'deliveredAt', 'readAt']);

/** How far a message's delivery has come: it only moves on (MESSAGE_STATUSES is in this order). */
const DELIVERY_STEP: { readonly [S in RecordOf<'Message'>['status']]: number } = {
  sent: 0,
  delivered: 1,
  read: 2,
};

/**
 * A message's delivery moves on only: a status never goes back (read, then delivered or sent again,
 * would tell the sender an answered message went unread), and a receipt time once set is what happened
 * then. These hold between any two states, so they compose across versions in between.
 */
const deliveryIssues = (previous: RecordOf<'Message'>, next: RecordOf<'Message'>): TransitionIssue[] => {
  const issues: TransitionIssue[] = [];
  if (DELIVERY_STEP[next.status] < DELIVERY_STEP[previous.status]) {
    issues.push(final('status', `was ${previous.status}: a delivery state does not go back`));
  }
  for (const field of ['deliveredAt', 'readAt'] as const) {
    const was = previous[field];
    if (was !== undefined && next[field] !== was) {
      issues.push(final(field, `was ${was}: a receipt time, once set, stays`));
    }
  }
  return issues;
};

const RECEIPT_FIELDS = ['status', 'deliveredAt', 'readAt'] as const;

/**
 * A receipt says what the recipient did, so only the recipient writes one: the sender writes a message
 * as sent, with no receipt time, and only the recipient's account moves its delivery on. Otherwise a
 * sender (or anyone else holding the stream) could tell the sender's own account, or a clinician reading
 * the thread later, that a message was read when it was not. A message to oneself is both.
 */
const receiptIssues = (
  previous: RecordOf<'Message'> | null,
  next: RecordOf<'Message'>,
  writer: Writer | undefined,
): TransitionIssue[] => {
  if (writer === undefined || writer.accountId === next.recipientId) return [];
  const reason = `only the recipient (${next.recipientId}) marks a message delivered or read`;
  const issues: TransitionIssue[] = [];
  for (const field of RECEIPT_FIELDS) {
    const written =
      previous === null
        ? field === 'status'
          ? next.status !== 'sent'
          : next[field] !== undefined
        : changed(previous[field], next[field]);
    if (written) issues.push({ field, rule: 'author', reason });
  }
  return issues;
};

type AppointmentStatus = RecordOf<'Appointment'>['status'];
type Party = 'patient' | 'provider' | 'either';

/** Statuses an appointment does not leave. */
const APPOINTMENT_FINAL: ReadonlySet<AppointmentStatus> = new Set(['canceled', 'completed', 'declined']);

/**
 * Who may move an appointment from a status (or create it, `new`) to another: the patient asks
 * (`requested`) and answers a time offered (`proposed` → `scheduled` or `declined`, or asks again); the
 * provider confirms, declines or offers another time; either cancels. Absent: no such move (a request is
 * not completed before it is confirmed). Statuses of the template (`scheduled`, `canceled`, `completed`)
 * stay writable by either, as before the flow, for appointments a patient keeps for itself.
 */
const APPOINTMENT_MOVES: {
  readonly [F in AppointmentStatus | 'new']?: { readonly [T in AppointmentStatus]?: Party };
} = {
  new: {
    requested: 'patient',
    proposed: 'provider',
    scheduled: 'either',
    canceled: 'either',
    completed: 'either',
  },
  requested: {
    requested: 'patient',
    scheduled: 'provider',
    declined: 'provider',
    proposed: 'provider',
    canceled: 'either',
  },
  proposed: {
    proposed: 'provider',
    requested: 'patient',
    scheduled: 'patient',
    declined: 'patient',
    canceled: 'either',
  },
  scheduled: {
    scheduled: 'either',
    proposed: 'provider',
    requested: 'patient',
    canceled: 'either',
    completed: 'either',
  },
};

const partyOf = (r: RecordOf<'Appointment'>, accountId: string): Party | null =>
  accountId === r.patientId ? 'patient' : accountId === r.providerId ? 'provider' : null;

/** The request flow's rules between two states (null: `next` creates the appointment). */
const appointmentIssues = (
  previous: RecordOf<'Appointment'> | null,
  next: RecordOf<'Appointment'>,
  writer: Writer | undefined,
  span: boolean,
): TransitionIssue[] => {
  const issues: TransitionIssue[] = [];
  const from = previous === null ? 'new' : previous.status;
  const moved = previous === null || previous.status !== next.status;
  if (previous !== null) {
    if (previous.providerId !== next.providerId) {
      issues.push(final('providerId', 'an appointment stays with its provider; book a new one'));
    }
    if (APPOINTMENT_FINAL.has(previous.status) && moved) {
      issues.push(final('status', `the appointment is ${previous.status}: it does not move again`));
      return issues;
    }
    // Over versions in between, only what composes: a final status stays, the provider stays.
    if (span) return issues;
    const retimed = changed(previous.startAt, next.startAt) || changed(previous.endAt, next.endAt);
    if (retimed && previous.status === 'scheduled' && next.status === 'scheduled') {
      issues.push(
        final(
          'startAt',
          'the appointment is confirmed: its time changes only by proposing or requesting another',
        ),
      );
    }
  }
  if (!moved && !changed(previous?.statusBy, next.statusBy)) return issues;
  const party = APPOINTMENT_MOVES[from]?.[next.status];
  if (party === undefined) {
    issues.push(final('status', `an appointment does not go from ${from} to ${next.status}`));
    return issues;
  }
  issues.push(...byWriter(next.statusBy, 'statusBy', writer));
  if (writer === undefined || party === 'either' || !moved) return issues;
  if (partyOf(next, writer.accountId) !== party) {
    issues.push({
      field: 'status',
      rule: 'author',
      reason: `only the ${party} (${party === 'patient' ? next.patientId : next.providerId}) moves an appointment from ${from} to ${next.status}`,
    });
  }
  return issues;
};

const TRANSITIONS: { readonly [K in RecordKind]?: Transition<K> } = {
  Appointment: (previous, next, writer, span) => appointmentIssues(previous, next, writer, span),
  HealthDocument: (previous, next, writer, span) =>
    previous === null
      ? versionAuthors(next, writer, true)
      : historyIssues('HealthDocument', previous, next, writer, span),
  LabResult: (previous, next, writer, span) =>
    previous === null
      ? versionAuthors(next, writer, true)
      : historyIssues('LabResult', previous, next, writer, span),
  TreatmentPlan: (previous, next, writer, span) => {
    if (previous === null) {
      return [
        ...versionAuthors(next, writer, true),
        ...byWriter(next.authorId, 'authorId', writer),
        ...byWriter(next.acknowledgement?.by, 'acknowledgement.by', writer),
      ];
    }
    const issues = historyIssues('TreatmentPlan', previous, next, writer, span);
    if (changed(previous.authorId, next.authorId))
      issues.push(...byWriter(next.authorId, 'authorId', writer));
    const [was, is] = [previous.acknowledgement, next.acknowledgement];
    if (was !== undefined && is === undefined) {
      issues.push(
        final('acknowledgement', 'was given for version ' + was.version + ': it cannot be withdrawn'),
      );
    } else if (is !== undefined && changed(was, is)) {
      issues.push(...byWriter(is.by, 'acknowledgement.by', writer));
      if (was !== undefined && is.version < was.version) {
        issues.push(final('acknowledgement.version', `must not go back before version ${was.version}`));
      }
    }
    return issues;
  },
  MedicalNote: (previous, next, writer) => {
    if (previous === null) return byWriter(next.authorId, 'authorId', writer);
    const issues = changed(previous.authorId, next.authorId)
      ? byWriter(next.authorId, 'authorId', writer)
      : [];
    if (next.currentVersionNumber < previous.currentVersionNumber) {
      issues.push(final('currentVersionNumber', `must not go back before ${previous.currentVersionNumber}`));
    }
    const signed = previous.status === 'signed' || previous.status === 'amended';
    const open = next.status === 'draft' || next.status === 'under_review';
    if (signed && open && next.currentVersionNumber === previous.currentVersionNumber) {
      issues.push(
        final(
          'status',
          `the note is ${previous.status}: a change is a new version (currentVersionNumber), not a draft again`,
        ),
      );
    }
    return issues;
  },
  NoteVersion: (previous, next, writer) => {
    if (previous === null) return byWriter(next.editorId, 'editorId', writer);
    const issues: TransitionIssue[] = [];
    if (previous.noteId !== next.noteId)
      issues.push(final('noteId', 'a version stays a version of its note'));
    if (previous.versionNumber !== next.versionNumber) {
      issues.push(final('versionNumber', 'a version keeps its number; a new one is a new NoteVersion'));
    }
    // Whoever changes the text is its editor.
    if (changedField(previous, next, UPDATED_AT) !== undefined) {
      issues.push(...byWriter(next.editorId, 'editorId', writer));
    }
    return issues;
  },
  NoteSignature: (previous, next, writer) => {
    const acts = next.status === 'signed' || next.status === 'declined';
    if (previous === null) {
      return acts
        ? byWriter(next.signerId, 'signerId', writer)
        : byWriter(next.requestedBy, 'requestedBy', writer);
    }
    if (previous.status === 'signed') {
      const field = changedField(previous, next, UPDATED_AT);
      return field === undefined ? [] : [final(field, 'the signature is signed: it is final')];
    }
    const issues: TransitionIssue[] = [];
    if (acts && (previous.status !== next.status || previous.signerId !== next.signerId)) {
      issues.push(...byWriter(next.signerId, 'signerId', writer));
    }
    if (changed(previous.requestedBy, next.requestedBy)) {
      issues.push(...byWriter(next.requestedBy, 'requestedBy', writer));
    }
    return issues;
  },
  Message: (previous, next, writer) => {
    if (previous === null)
      return [...byWriter(next.senderId, 'senderId', writer), ...receiptIssues(null, next, writer)];
    if (previous.senderId !== next.senderId) {
      return [
        { field: 'senderId', rule: 'author', reason: 'names who sent the message: it does not change' },
      ];
    }
    // A message is sent when it is written: what it says stays as its sender sent it, or the recipient
    // (or anyone holding the stream) could put words in the sender's name. Only its delivery may move.
    const field = changedField(previous, next, MESSAGE_DELIVERY);
    if (field !== undefined) return [final(field, 'the message is sent: only its delivery state changes')];
    return [...deliveryIssues(previous, next), ...receiptIssues(previous, next, writer)];
  },
};

/**
 * The rules `next` breaks as the state that follows `previous` (null: `next` creates the record),
 * written by `writer` (optional: without it, only the `final` rules). Both must be valid records of
 * `kind`. An empty list: the change may be written.
 */
export const transitionIssues = <K extends RecordKind>(
  kind: K,
  previous: RecordOf<K> | null,
  next: RecordOf<K>,
  writer?: Writer,
): TransitionIssue[] => {
  const transition: Transition<K> | undefined = TRANSITIONS[kind];
  return transition ? transition(previous, next, writer, false) : [];
};

/**
 * The rules `later` breaks as a state of the record some versions after `earlier` (one or more, by any
 * writers): the `final` rules as they compose (module comment). Both must be valid records of `kind`.
 */
export const laterStateIssues = <K extends RecordKind>(
  kind: K,
  earlier: RecordOf<K>,
  later: RecordOf<K>,
): TransitionIssue[] => {
  const transition: Transition<K> | undefined = TRANSITIONS[kind];
  return transition ? transition(earlier, later, undefined, true) : [];
};
