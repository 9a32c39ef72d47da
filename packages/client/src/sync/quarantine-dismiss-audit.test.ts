import { describe, expect, it } from 'vitest';
import { AuditEntryBody, MAX_AUDIT_SUMMARY, validate } from '@hale/protocol';
import { dismissalAuditEntries, type DismissedVersion } from './quarantine-dismiss-audit';

const A = 'AAAAAAAAAAAAAAAAAAAAAA';
const B = 'BBBBBBBBBBBBBBBBBBBBBB';
const ME = 'MMMMMMMMMMMMMMMMMMMMMM';
const GRANTEE = 'GGGGGGGGGGGGGGGGGGGGGG';
const idOf = (n: number) => `01J4000000000000000000${String(n).padStart(4, '0')}`;
const revOf = (n: number) => `${n}-${'ab'.repeat(12)}`;
const version = (stream: string, n: number, over: Partial<DismissedVersion> = {}): DismissedVersion => ({
  stream,
  id: idOf(n),
  rev: revOf(n),
  reason: 'TAMPERED',
  ...over,
});

/** The whole body the audit log would sign for `detail`, checked as its readers check it. */
const bodyValid = (detail: object): boolean =>
  validate(AuditEntryBody, {
    ...detail,
    kind: 'AuditEntry',
    actorId: ME,
    actorDeviceId: ME,
    at: '2026-01-01T00:00:00.000Z',
  }).ok;

describe('the audit entries of a dismissal', () => {
  it('are one per patient, in the order the call names them, with the stream only when there is one', () => {
    const entries = dismissalAuditEntries(
      [
        version(`${B}/lab-result`, 1),
        version(`${A}/allergy`, 2, { reason: 'BAD_TRANSITION', author: GRANTEE }),
        version(`${B}/lab-result`, 3, { reason: 'NO_KEY' }),
        version(`${A}/medication`, 4),
      ],
      ME,
    );
    expect(entries).toEqual([
      {
        patientId: B,
        detail: {
          action: 'quarantine-dismiss',
          count: 2,
          stream: `${B}/lab-result`,
          summary: `dismissed 2 quarantined versions: lab-result ${idOf(1)} rev ${revOf(1)} TAMPERED; lab-result ${idOf(3)} rev ${revOf(3)} NO_KEY`,
        },
      },
      {
        patientId: A,
        detail: {
          action: 'quarantine-dismiss',
          count: 2,
          summary: `dismissed 2 quarantined versions: allergy ${idOf(2)} rev ${revOf(2)} BAD_TRANSITION by ${GRANTEE}; medication ${idOf(4)} rev ${revOf(4)} TAMPERED`,
        },
      },
    ]);
    for (const e of entries) expect(bodyValid(e.detail)).toBe(true);
    expect(dismissalAuditEntries([], ME)).toEqual([]);
  });

  it('keeps the summary within its bound, counting the versions that do not fit', () => {
    for (const n of [5, 6, 7, 50, 10_000]) {
      const versions = Array.from({ length: n }, (_, i) => version(`${A}/allergy`, i + 1));
      const [entry] = dismissalAuditEntries(versions, ME);
      const summary = entry?.detail.summary ?? '';
      expect(summary.length).toBeLessThanOrEqual(MAX_AUDIT_SUMMARY);
      expect(entry?.detail.count).toBe(n);
      expect(bodyValid(entry?.detail ?? {})).toBe(true);
      // Every version is either named whole or counted.
      const named = versions.filter((v) => summary.includes(`${v.id} rev ${v.rev} TAMPERED`)).length;
      const more = /; and (\d+) more$/.exec(summary);
      expect(named + Number(more?.[1] ?? 0)).toBe(n);
      expect(named).toBeGreaterThan(0);
    }
  });

  it('names a signer only when it is an account id, and a stream that does not parse as this account’s', () => {
    const [entry] = dismissalAuditEntries([version('not a stream', 1, { author: 'someone <x>' })], ME);
    expect(entry).toEqual({
      patientId: ME,
      detail: {
        action: 'quarantine-dismiss',
        count: 1,
        summary: `dismissed 1 quarantined version: not a stream ${idOf(1)} rev ${revOf(1)} TAMPERED`,
      },
    });
  });
});
