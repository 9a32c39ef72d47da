/**
 * The access history exported as a person keeps it: CSV (a spreadsheet; RFC 4180 quoting, formulas
 * neutralised) and FHIR R4 AuditEvent resources in a `collection` Bundle. Pure: rows and names in, text out.
 *
 * Invariants: one CSV line / one AuditEvent per access record, in the order given; a cell that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is prefixed with `'`.
 */
import type { AccessRecord } from '@hale/client';
import { streamTypeOf } from '../streams';

export type Names = ReadonlyMap<string, string>;

const cell = (value: string | number | undefined): string => {
  let text = value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export const CSV_COLUMNS = [
  'time',
  'source',
  'who',
  'account',
  'device',
  'action',
  'record kind',
  'documents',
  'note',
] as const;

export const accessCsv = (rows: readonly AccessRecord[], names: Names): string =>
  [
    CSV_COLUMNS.join(','),
    ...rows.map((r) =>
      [
        r.at,
        r.source,
        names.get(r.actorId) ?? '',
        r.actorId,
        r.actorDeviceId,
        r.action,
        streamTypeOf(r.stream) ?? r.stream ?? '',
        r.count,
        r.summary,
      ]
        .map(cell)
        .join(','),
    ),
  ].join('\r\n') + '\r\n';

const READS = new Set(['pull', 'live', 'key-fetch', 'blob-down', 'link-open']);
const CREATES = new Set(['push', 'blob-up', 'records-changed']);

/** FHIR's AuditEvent.action: C(reate), R(ead), U(pdate), D(elete), E(xecute). */
export const fhirAction = (action: string): 'C' | 'R' | 'D' | 'E' =>
  READS.has(action)
    ? 'R'
    : CREATES.has(action)
      ? 'C'
      : action === 'blob-delete' || action === 'purge'
        ? 'D'
        : 'E';

export const auditEventBundle = (
  rows: readonly AccessRecord[],
  names: Names,
  patientId: string,
  now: string,
): object => ({
  resourceType: 'Bundle',
  type: 'collection',
  timestamp: now,
  entry: rows.map((r) => ({
    resource: {
      resourceType: 'AuditEvent',
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
        code: 'rest',
        display: 'RESTful Operation',
      },
      subtype: [{ system: 'urn:hale:audit-action', code: r.action }],
      action: fhirAction(r.action),
      recorded: r.at,
      outcome: '0',
      agent: [
        {
          who: {
            identifier: { system: 'urn:hale:account', value: r.actorId },
            ...(names.has(r.actorId) ? { display: names.get(r.actorId) } : {}),
          },
          requestor: true,
        },
        {
          type: {
            coding: [
              {
                system: 'http://dicom.nema.org/resources/ontology/DCM',
                code: '110150',
                display: 'Application',
              },
            ],
          },
          who: { identifier: { system: 'urn:hale:device', value: r.actorDeviceId } },
          requestor: false,
        },
      ],
      source: {
        observer: { display: r.source === 'server' ? 'Hale sync server' : 'Grantee device (its own claim)' },
        type: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
            code: r.source === 'server' ? '4' : '1',
          },
        ],
      },
      entity: [
        {
          what: { identifier: { system: 'urn:hale:account', value: patientId } },
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '1',
            display: 'Person',
          },
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '1',
            display: 'Patient',
          },
        },
        ...(r.stream === undefined
          ? []
          : [
              {
                what: { identifier: { system: 'urn:hale:stream', value: r.stream } },
                name: streamTypeOf(r.stream) ?? r.stream,
                ...(r.count === undefined
                  ? {}
                  : { detail: [{ type: 'documents', valueString: String(r.count) }] }),
              },
            ]),
      ],
      ...(r.summary === undefined ? {} : { outcomeDesc: r.summary }),
    },
  })),
});
