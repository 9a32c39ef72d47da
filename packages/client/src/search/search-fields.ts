/**
 * What local search reads of each record kind: its text fields, by path, and how much a match in each
 * counts (`FIELD_BOOST`, 1 unless named).
 *
 * | kind | fields |
 * |---|---|
 * | Profile | fullName, medicalRecordNumber, primaryCareProvider, notes |
 * | EmergencyContact | name, relationship, phone, email, notes |
 * | HealthDocument | title, documentType, description, tags, file.fileName |
 * | Allergy | substance, category, reaction, notes |
 * | Immunization | vaccineName, vaccineCode, performer, lotNumber, notes |
 * | Medication | name, dose, frequency, instructions, reason |
 * | LabResult | testName, testCode, performer, units, status |
 * | TreatmentPlan | summary, details |
 * | Appointment | reason, location, status |
 * | Message | body, attachments.fileName |
 * | Encounter | reason, type, department, location, encounterNumber |
 * | MedicalNote | title, noteType |
 * | NoteVersion | subjective, objective, assessment, plan, changeSummary, amendmentReason |
 * | NoteSignature | signerRole, comment |
 *
 * A path `a.b` reads field `b` of object `a`, or of every object of list `a`; a list of texts (`tags`)
 * is read whole. Consent, AuditEntry and ProviderProfile are not searched (no chart content).
 */
import type { RecordKind } from '@hale/model';

export const SEARCH_FIELDS = {
  Profile: ['fullName', 'medicalRecordNumber', 'primaryCareProvider', 'notes'],
  EmergencyContact: ['name', 'relationship', 'phone', 'email', 'notes'],
  HealthDocument: ['title', 'documentType', 'description', 'tags', 'file.fileName'],
  Allergy: ['substance', 'category', 'reaction', 'notes'],
  Immunization: ['vaccineName', 'vaccineCode', 'performer', 'lotNumber', 'notes'],
  Medication: ['name', 'dose', 'frequency', 'instructions', 'reason'],
  LabResult: ['testName', 'testCode', 'performer', 'units', 'status'],
  TreatmentPlan: ['summary', 'details'],
  Appointment: ['reason', 'location', 'status'],
  Message: ['body', 'attachments.fileName'],
  Encounter: ['reason', 'type', 'department', 'location', 'encounterNumber'],
  MedicalNote: ['title', 'noteType'],
  NoteVersion: ['subjective', 'objective', 'assessment', 'plan', 'changeSummary', 'amendmentReason'],
  NoteSignature: ['signerRole', 'comment'],
} as const satisfies Partial<Record<RecordKind, readonly string[]>>;

export type SearchableKind = keyof typeof SEARCH_FIELDS;
export const SEARCHABLE_KINDS = Object.keys(SEARCH_FIELDS) as SearchableKind[];

export const isSearchableKind = (kind: string): kind is SearchableKind => Object.hasOwn(SEARCH_FIELDS, kind);

/** Every field path any kind has, once. */
export const ALL_SEARCH_FIELDS: readonly string[] = [...new Set(Object.values(SEARCH_FIELDS).flat())];

/** A record's name counts most, then its main text; codes, units and states least. */
export const FIELD_BOOST: Readonly<Record<string, number>> = {
  fullName: 3,
  name: 3,
  substance: 3,
  testName: 3,
  vaccineName: 3,
  title: 3,
  summary: 2.5,
  reaction: 2,
  reason: 1.5,
  assessment: 1.5,
  tags: 1.5,
  documentType: 1.2,
  'file.fileName': 1.2,
  testCode: 0.8,
  vaccineCode: 0.8,
  lotNumber: 0.6,
  units: 0.5,
  status: 0.5,
};

const textOf = (value: unknown): string[] => {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.flatMap((v) => (typeof v === 'string' && v !== '' ? [v] : []));
  return [];
};

/** The text at `path` of `record` (see the header), or undefined when it holds none. */
export function fieldText(record: Readonly<Record<string, unknown>>, path: string): string | undefined {
  const dot = path.indexOf('.');
  let texts: string[];
  if (dot < 0) texts = textOf(record[path]);
  else {
    const [head, tail] = [path.slice(0, dot), path.slice(dot + 1)];
    const outer = record[head];
    const objects = Array.isArray(outer) ? outer : [outer];
    texts = objects.flatMap((o) =>
      typeof o === 'object' && o !== null ? textOf((o as Record<string, unknown>)[tail]) : [],
    );
  }
  return texts.length === 0 ? undefined : texts.join(' ');
}
