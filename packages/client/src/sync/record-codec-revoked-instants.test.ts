// A device its account revoked is taken as author only of versions whose `updatedAt` is before the
// revocation (record-codec.ts). The cutoff comes from the device directory (UTC, milliseconds), but the
// version's `updatedAt` is what its writer sealed: any offset and 1–9 fraction digits (the model takes
// them; another build or a provider's device writes them). Each must be judged as the instant it names,
// at the boundary too: the same instant written another way is not before, a nanosecond earlier is.
import { describe, expect, it } from 'vitest';
import { decodeRecord, type CodecDeps } from './record-codec';
import { dataOf, patient, patientDeps, patientDevice, record, servedRecord } from './codec-fixture.test-util';

/** The patient's reader, told that the patient's device was revoked at `revokedAt`. */
const readerRevokedAt = (revokedAt: string): CodecDeps => ({
  ...patientDeps,
  lookupDeviceKey: async (account, device) =>
    account === patient.accountId && device === patientDevice.deviceId
      ? { status: 'found', key: patientDevice.publicKey, revokedAt }
      : { status: 'unknown' },
});

/** How the reader takes a version of the patient's lab result (signed) or allergy (not) stamped `updatedAt`. */
const outcome = async (
  updatedAt: string,
  revokedAt: string,
  stream = 'lab-result',
  dataUpdatedAt = updatedAt,
): Promise<string> => {
  const kind = stream === 'lab-result' ? 'LabResult' : 'Allergy';
  const id = '01J00000000000000000000001';
  const r = record({
    stream: `${patient.accountId}/${stream}`,
    kind,
    updatedAt,
    data: dataOf(kind, id, patient.accountId, {
      createdAt: '2025-01-01T00:00:00Z',
      updatedAt: dataUpdatedAt,
    }),
  });
  const doc = await servedRecord(r);
  expect(doc.sig !== undefined).toBe(stream === 'lab-result');
  const result = await decodeRecord(readerRevokedAt(revokedAt), doc);
  return result.ok ? 'taken' : result.reason;
};

const REVOKED_AT = '2026-01-01T10:00:00.123Z';

describe('record codec: a revoked author, judged by the instant of updatedAt in every form the model takes', () => {
  const atOrAfter = [
    // The same instant.
    '2026-01-01T10:00:00.123Z',
    '2026-01-01T10:00:00.1230Z',
    '2026-01-01T10:00:00.123000000Z',
    '2026-01-01T10:00:00.123+00:00',
    '2026-01-01T10:00:00.123-00:00',
    '2026-01-01T12:00:00.123+02:00',
    '2026-01-02T09:59:00.123+23:59',
    '2025-12-31T10:01:00.123-23:59',
    // Within the millisecond after it.
    '2026-01-01T10:00:00.123000001Z',
    '2026-01-01T10:00:00.1231Z',
    '2026-01-01T10:00:00.12399Z',
    '2026-01-01T07:00:00.1230001-03:00',
    // Later, with fewer digits.
    '2026-01-01T10:00:00.13Z',
    '2026-01-01T10:00:00.2Z',
    '2026-01-01T10:00:01Z',
    '2026-01-01T11:00:00+00:59',
  ];
  const before = [
    // Within the millisecond before it.
    '2026-01-01T10:00:00.122999999Z',
    '2026-01-01T10:00:00.1229Z',
    '2026-01-01T12:00:00.1229999+02:00',
    '2025-12-31T10:01:00.122999999-23:59',
    // Earlier, with fewer digits.
    '2026-01-01T10:00:00.12Z',
    '2026-01-01T10:00:00.1Z',
    '2026-01-01T10:00:00Z',
    '2026-01-01T11:00:00.1+01:00',
  ];

  it.each(atOrAfter)('refuses a signed version stamped %s (BAD_AUTHOR)', async (updatedAt) => {
    expect(await outcome(updatedAt, REVOKED_AT)).toBe('BAD_AUTHOR');
  });

  it.each(before)('takes a signed version stamped %s', async (updatedAt) => {
    expect(await outcome(updatedAt, REVOKED_AT)).toBe('taken');
  });

  it("judges the patient's own unsigned versions alike", async () => {
    expect(await outcome('2026-01-01T12:00:00.123+02:00', REVOKED_AT, 'allergy')).toBe('BAD_AUTHOR');
    expect(await outcome('2026-01-01T10:00:00.123000001Z', REVOKED_AT, 'allergy')).toBe('BAD_AUTHOR');
    expect(await outcome('2026-01-01T10:00:00.122999999Z', REVOKED_AT, 'allergy')).toBe('taken');
  });

  // The codec checks only that the top-level `updatedAt` is text (the model checks the data's). Text that
  // names no instant the model takes gives no time to judge a revoked author's version by, even where an
  // engine's Date.parse reads one (V8 reads a bare date as UTC midnight and rolls 30 February over).
  it('refuses a version whose top-level updatedAt names no instant the model takes', async () => {
    const valid = '2025-06-01T00:00:00Z';
    // BAD_CONTENT whoever wrote it (before the author is judged): such a time orders and is indexed as no
    // writer meant; one beginning with characters above the index's range drops out of the store's queries.
    const farFuture = '2100-01-01T00:00:00Z';
    for (const updatedAt of [
      '',
      'yesterday',
      '2025-06-01',
      '2025-02-30T10:00:00Z',
      '2025-06-01T24:00:00Z',
      '\uffff\uffff2025-06-01T00:00:00Z',
    ]) {
      expect(await outcome(updatedAt, REVOKED_AT, 'allergy', valid), updatedAt).toBe('BAD_CONTENT');
      expect(await outcome(updatedAt, REVOKED_AT, 'lab-result', valid), updatedAt).toBe('BAD_CONTENT');
      expect(await outcome(updatedAt, farFuture, 'allergy', valid), updatedAt).toBe('BAD_CONTENT');
    }
    // Positive control: the same data under an instant before the revocation is taken.
    expect(await outcome(valid, REVOKED_AT, 'allergy')).toBe('taken');
  });

  it('a cutoff given to the sub-millisecond is judged to the nanosecond as well', async () => {
    const cutoff = '2026-01-01T10:00:00.1235Z';
    expect(await outcome('2026-01-01T10:00:00.1231Z', cutoff)).toBe('taken');
    expect(await outcome('2026-01-01T10:00:00.123499999Z', cutoff)).toBe('taken');
    expect(await outcome('2026-01-01T10:00:00.12350Z', cutoff)).toBe('BAD_AUTHOR');
    expect(await outcome('2026-01-01T10:00:00.1236Z', cutoff)).toBe('BAD_AUTHOR');
  });
});
