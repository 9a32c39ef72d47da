/**
 * Summaries built on the device from the records it holds (@hale/model `toIpsBundle`):
 *
 * | call | content |
 * |---|---|
 * | `patientSummary` | the International Patient Summary: allergies, medications, problems (required), immunizations, results, procedures |
 * | `emergencySummary` | the emergency subset: the Profile (blood type as a result), allergies, medications, conditions, and the emergency contacts as `Patient.contact` (relationship C, Emergency Contact) |
 *
 * Invariants: no network but the directory lookup of the clinicians named (practitioners.ts: a clinician
 * not found, or offline, stays in the absent-data form); ids are `urn:uuid:` derived with SHA-256 from the
 * chart and the record (the same chart gives the same ids); a record in an unsettled conflict goes in as
 * the version this device shows.
 * `contents` counts the records per stream type, which a link's access log names.
 */
import { hexEncode, sha256, utf8Encode } from '@hale/crypto';
import {
  IPS_KINDS,
  RECORD_KINDS,
  toIpsBundle,
  type FhirBundle,
  type FhirExportItem,
  type RecordKind,
  type RecordOf,
  type StreamType,
} from '@hale/model';
import type { RecordsIoDeps } from './records-io-deps';
import { withPractitioners } from './practitioners';

/** A patient or emergency summary: the FHIR Bundle and what it carries. */
export interface Summary {
  readonly bundle: FhirBundle;
  /** Records per stream type in the summary (what a shared link says it carries). */
  readonly contents: readonly { readonly type: Exclude<StreamType, 'audit'>; readonly count: number }[];
}

/** A name-based UUID (version 8, RFC 9562) from SHA-256. */
export const uuidOf = (name: string): string => {
  const h = hexEncode(sha256(utf8Encode(name)));
  const variant = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export const EMERGENCY_KINDS = ['Profile', 'Allergy', 'Medication', 'Condition'] as const;

const itemsOf = async (deps: RecordsIoDeps, kinds: readonly RecordKind[], patientId: string) => {
  const items: FhirExportItem[] = [];
  const counts = new Map<Exclude<StreamType, 'audit'>, number>();
  for (const kind of kinds) {
    const stored = await deps.session.records.query(kind, { patientId });
    for (const s of stored) items.push({ kind, record: s.record } as FhirExportItem);
    const type = RECORD_KINDS[kind].streamType;
    if (type !== null && type !== 'audit' && stored.length > 0)
      counts.set(type, (counts.get(type) ?? 0) + stored.length);
  }
  return { items, contents: [...counts].map(([type, count]) => ({ type, count })) };
};

const nowIso = (deps: RecordsIoDeps) => new Date(deps.now?.() ?? Date.now()).toISOString();

/** The International Patient Summary of the chart (`kinds`: a subset of IPS_KINDS; all by default). */
export async function patientSummary(
  deps: RecordsIoDeps,
  options: { patientId?: string; kinds?: readonly RecordKind[] } = {},
): Promise<Summary> {
  const patientId = options.patientId ?? deps.session.account.accountId;
  const kinds = (options.kinds ?? IPS_KINDS).filter((k) => (IPS_KINDS as readonly string[]).includes(k));
  const { items, contents } = await itemsOf(
    deps,
    ['Profile', ...kinds.filter((k) => k !== 'Profile')],
    patientId,
  );
  const bundle = await withPractitioners(
    deps.providerProfile,
    toIpsBundle({ patientId, records: items, generatedAt: nowIso(deps), uuidOf, kinds }),
  );
  return { bundle, contents };
}

/** The emergency subset (see the header). */
export async function emergencySummary(deps: RecordsIoDeps, patientId?: string): Promise<Summary> {
  const chart = patientId ?? deps.session.account.accountId;
  const { items, contents } = await itemsOf(deps, EMERGENCY_KINDS, chart);
  const bundle = await withPractitioners(
    deps.providerProfile,
    toIpsBundle({
      patientId: chart,
      records: items,
      generatedAt: nowIso(deps),
      uuidOf,
      kinds: EMERGENCY_KINDS,
    }),
  );
  const contacts = await deps.session.records.query('EmergencyContact', { patientId: chart });
  const contactOf = (c: RecordOf<'EmergencyContact'>) => ({
    relationship: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v2-0131',
            code: 'C',
            display: 'Emergency Contact',
          },
        ],
      },
      { text: c.relationship },
    ],
    name: { text: c.name },
    telecom: [
      { system: 'phone', value: c.phone },
      ...(c.email === undefined ? [] : [{ system: 'email', value: c.email }]),
    ],
  });
  const entry = bundle.entry.map((e) =>
    e.resource.resourceType === 'Patient' && contacts.length > 0
      ? {
          ...e,
          resource: { ...e.resource, contact: contacts.map((c) => contactOf(c.record)) },
        }
      : e,
  );
  const withContacts =
    contacts.length === 0
      ? contents
      : [...contents, { type: 'emergency-contact' as const, count: contacts.length }];
  return { bundle: { ...bundle, entry }, contents: withContacts };
}
