import { afterEach, describe, expect, it } from 'vitest';
import { MAX_DOC_BYTES, docBytes } from '@hale/protocol';
import { base64urlEncode, deriveRevisionTagKey, sealRecordVersion } from '@hale/crypto';
import {
  EXAMPLE_PATIENT_ID,
  RECORD_KINDS,
  STREAM_TYPES,
  exampleRecord,
  newId,
  type RecordOf,
} from '@hale/model';
import { resolveRecordConflict } from './conflicts';
import { contentOf } from '../sync/record-codec';
import type { PlainRecord } from './plain-record';
import { MAX_RECORD_BYTES, RecordError } from './records';
import {
  DEVICE,
  OTHER_DEVICE,
  closeRecordDbs,
  pulledSide,
  setupRecords,
  storeMerged,
} from './records.test-util';

const NOW = Date.UTC(2024, 5, 1, 12);
const NOW_ISO = new Date(NOW).toISOString();

afterEach(closeRecordDbs);

const setup = () => setupRecords({ now: () => NOW });

type Plan = RecordOf<'TreatmentPlan'>;
type PlanVersion = Plan['versions'][number];

const utf8Bytes = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value)).length;

/**
 * The example plan as this device's account writes it (its author fields naming the session, its
 * provenance dated at the clock's `NOW`, as `add` stores it), without the patient's acknowledgement.
 */
const example = (() => {
  const { acknowledgement: _a, ...plan } = exampleRecord('TreatmentPlan');
  const mine = { by: EXAMPLE_PATIENT_ID, deviceId: DEVICE };
  return {
    ...plan,
    authorId: EXAMPLE_PATIENT_ID,
    provenance: { ...plan.provenance, ...mine, at: NOW_ISO },
    versions: plan.versions.map((v) => ({ ...v, provenance: { ...v.provenance, ...mine } })),
  };
})();
/** A kept version as the reviewer's record had them: the example's first, without a goal or a re-check. */
const version = (n: number, details: string): PlanVersion => {
  const { goal: _g, recheck: _r, ...first } = example.versions[0]!;
  return { ...first, version: n, details };
};

/** A valid TreatmentPlan as `add` takes it, with these superseded versions. */
const plan = (id: string, versions: readonly PlanVersion[]) => {
  const { patientId: _p, createdAt: _c, updatedAt: _u, ...rest } = example;
  return { ...rest, id, versions: [...versions], version: versions.length + 1 };
};

/** The record `add` stores for `input` (the store adds the patient and both timestamps). */
const stored = (input: ReturnType<typeof plan>) => ({
  ...input,
  patientId: EXAMPLE_PATIENT_ID,
  createdAt: NOW_ISO,
  updatedAt: NOW_ISO,
});

/** The reviewer's record: valid for the model, 10,000 characters of details in each of 120 kept versions. */
const reviewersPlan = (id: string) =>
  plan(
    id,
    Array.from({ length: 120 }, (_, i) => version(i + 1, 'x'.repeat(10_000))),
  );

/** A valid TreatmentPlan whose stored JSON is exactly `bytes` UTF-8 bytes (ASCII filler). */
const planOfSize = (id: string, bytes: number): ReturnType<typeof plan> => {
  const versions: PlanVersion[] = [];
  const size = (last: PlanVersion) => utf8Bytes(stored(plan(id, [...versions, last])));
  while (size(version(versions.length + 1, 'x'.repeat(10_000))) <= bytes) {
    versions.push(version(versions.length + 1, 'x'.repeat(10_000)));
  }
  const rest = bytes - size(version(versions.length + 1, ''));
  expect(rest).toBeGreaterThanOrEqual(0);
  const sized = plan(id, [...versions, version(versions.length + 1, 'x'.repeat(rest))]);
  expect(utf8Bytes(stored(sized))).toBe(bytes);
  return sized;
};

const refusal = async (promise: Promise<unknown>): Promise<RecordError> => {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RecordError);
  return error as RecordError;
};

describe('records: a record too large to ever sync is refused at write', () => {
  it("add refuses the reviewer's valid 1.2 MB TreatmentPlan, naming the record, its largest field and the limit", async () => {
    const { records, writes } = await setup();
    const id = newId();
    const error = await refusal(records.add('TreatmentPlan', reviewersPlan(id)));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toBe(
      `this TreatmentPlan record (${id}) is too large to sync (1.2 MB; at most 524 kB); its largest field is ` +
        'versions (1.2 MB). Shorten it or split it into several records.',
    );
    expect(error.detail?.kind).toBe('TreatmentPlan');
    expect(error.detail?.issues.map((issue) => issue.field)).toEqual(['versions']);
    expect(await records.get(id)).toBeNull();
    expect(writes.map((w) => w.action)).toEqual([]);
  });

  it('takes a record of exactly MAX_RECORD_BYTES and refuses one byte more', async () => {
    const { records, writes } = await setup();
    const fits = planOfSize(newId(), MAX_RECORD_BYTES);
    const added = await records.add('TreatmentPlan', fits);
    expect(utf8Bytes(added)).toBe(MAX_RECORD_BYTES);
    expect((await records.get(fits.id))?.record).toEqual(added);

    const over = planOfSize(newId(), MAX_RECORD_BYTES + 1);
    const error = await refusal(records.add('TreatmentPlan', over));
    expect(error.code).toBe('VALIDATION_FAILED');
    // Rounded, both would read "524 kB": the message then gives the bytes.
    expect(error.message).toContain(`(${MAX_RECORD_BYTES + 1} bytes; at most ${MAX_RECORD_BYTES} bytes)`);
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });

  it('counts UTF-8 bytes, not characters', async () => {
    const { records } = await setup();
    const id = newId();
    const ascii = planOfSize(id, MAX_RECORD_BYTES - 100);
    // 101 two-byte characters in place of 101 ASCII ones: the same length in characters, 1 byte over.
    const last = ascii.versions.at(-1)!;
    const accented = {
      ...ascii,
      versions: [
        ...ascii.versions.slice(0, -1),
        { ...last, details: 'é'.repeat(101) + last.details!.slice(101) },
      ],
    };
    expect(JSON.stringify(stored(accented)).length).toBe(MAX_RECORD_BYTES - 100);
    expect(utf8Bytes(stored(accented))).toBe(MAX_RECORD_BYTES + 1);
    expect((await refusal(records.add('TreatmentPlan', accented))).code).toBe('VALIDATION_FAILED');
    expect(await records.get(id)).toBeNull();
  });

  it('update refuses a change whose next version makes the record too large and leaves it as it was', async () => {
    const { records, writes } = await setup();
    // Near the limit: the change keeps the current version in `versions`, which no longer fits.
    const added = await records.add('TreatmentPlan', planOfSize(newId(), MAX_RECORD_BYTES - 200));
    const error = await refusal(records.update('TreatmentPlan', added.id, { details: 'z'.repeat(1000) }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(/^this TreatmentPlan record \(\w+\) is too large to sync \(/);
    expect(error.detail?.issues.map((issue) => issue.field)).toEqual(['versions']);
    const after = await records.get<'TreatmentPlan'>(added.id);
    expect(after?.record).toEqual(added);
    expect(after?.rv).toBe(1);
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });

  it('resolveConflict refuses merged content that is too large and leaves the conflict unsettled', async () => {
    const { db, records, writes } = await setup();
    const data = stored(planOfSize(newId(), MAX_RECORD_BYTES - 200)) as unknown as Record<string, unknown>;
    const merged = resolveRecordConflict(
      pulledSide('TreatmentPlan', { ...data, details: 'mine', updatedAt: '2024-06-01T00:00:00.000Z' }),
      pulledSide(
        'TreatmentPlan',
        { ...data, details: 'theirs', updatedAt: '2024-06-02T00:00:00.000Z' },
        { author: OTHER_DEVICE },
      ),
    );
    await storeMerged(db, merged);

    // Merged content is a new version: the one it replaces goes into `versions`, which no longer fits.
    const error = await refusal(
      records.resolveConflict(String(data['id']), { details: 'z'.repeat(1000) }, { expectedRv: merged.rv }),
    );
    expect(error.code).toBe('VALIDATION_FAILED');
    const after = await records.get(String(data['id']));
    expect(after?.conflict).toBe(true);
    expect(after?.rv).toBe(merged.rv);
    expect(writes.map((w) => w.action)).toEqual([]);
  });

  it('two records at the limit, one the conflict side of the other, still fit one sealed document', () => {
    // The worst case the envelope allowance must cover: the longest kind name and stream type, and the
    // largest epoch and revision numbers (the longest sealed binding and tag).
    const longestKind = Object.keys(RECORD_KINDS).reduce((a, b) => (b.length > a.length ? b : a));
    const longestType = STREAM_TYPES.reduce((a, b) => (b.length > a.length ? b : a));
    const data = stored(planOfSize(newId(), MAX_RECORD_BYTES)) as unknown as Record<string, unknown>;
    // The other side differs in content (sides differing only in `updatedAt` are no conflict), not in size.
    const summary = String(data['summary']);
    const otherSummary = `${summary.slice(0, -1)}${summary.endsWith('y') ? 'z' : 'y'}`;
    const otherData = { ...data, summary: otherSummary, updatedAt: '2024-06-02T00:00:00.000Z' };
    const side = (author: string, d: Record<string, unknown>): PlainRecord =>
      pulledSide('TreatmentPlan', d, {
        stream: `${EXAMPLE_PATIENT_ID}/${longestType}`,
        kind: longestKind,
        rv: Number.MAX_SAFE_INTEGER - 1,
        epoch: Number.MAX_SAFE_INTEGER,
        author,
      });
    const merged = resolveRecordConflict(side(DEVICE, data), side(OTHER_DEVICE, otherData));
    expect(merged.conflict).toBe(true);
    expect(utf8Bytes(merged.conflictData)).toBeGreaterThan(MAX_RECORD_BYTES);
    const key = new Uint8Array(32).fill(7);
    const { sealed } = sealRecordVersion(
      key,
      deriveRevisionTagKey(key),
      {
        stream: merged.stream,
        id: merged.id,
        epoch: merged.epoch,
        rev: Number.MAX_SAFE_INTEGER,
        deleted: false,
      },
      contentOf(merged),
    );
    const size = docBytes({ ct: base64urlEncode(sealed) });
    expect(size).toBeLessThanOrEqual(MAX_DOC_BYTES);
    // And the allowance is not wasteful: within 1 KiB of the limit.
    expect(size).toBeGreaterThan(MAX_DOC_BYTES - 1024);
  });
});
