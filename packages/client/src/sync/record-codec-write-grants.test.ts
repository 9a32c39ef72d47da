// Authorship proves which account wrote a version, not that the patient let it write: on the patient's
// device (a `writeGrants` lookup injected) a version by another account is taken only within a write
// grant of that account covering its stream, at the version's `updatedAt` (NO_WRITE_GRANT otherwise).
import { describe, expect, it, vi } from 'vitest';
import { deriveInitialStreamKey } from '@hale/crypto';
import type { ServedDoc } from '@hale/protocol';
import {
  WRITE_GRANT_SLACK_MS,
  decodeRecord,
  decodeRecords,
  encodeRecord,
  type CodecDeps,
  type WriteGrantLookup,
  type WriteSpan,
} from './record-codec';
import {
  depsFor,
  idOf,
  patient,
  patientDeps,
  patientRoot,
  provider,
  providerDevice,
  providerRoot,
  record,
  servedAs,
  servedRecord,
  signedEnvelope,
} from './codec-fixture.test-util';
import { resolveRecordConflict } from '../records/conflicts';

const stream = `${patient.accountId}/lab-result`;
const k0 = deriveInitialStreamKey(patientRoot, stream);
/** The time every fixture record is dated (`record()`'s `updatedAt`). */
const AT = Date.parse('2026-01-01T00:00:00.000Z');
const MINUTE = 60_000;

/** A lab result the provider's device wrote and signed into the patient's stream, as the server serves it. */
const providerLab = async (n = 1): Promise<ServedDoc> => {
  const grantee = depsFor(provider, providerRoot, providerDevice, [
    await signedEnvelope(stream, 0, k0, provider),
  ]);
  const lab = record({
    id: idOf(n),
    stream,
    kind: 'LabResult',
    by: provider.accountId,
    author: providerDevice.deviceId,
  });
  const doc = await encodeRecord(grantee, lab, { epoch: 0, key: k0 });
  if (!doc) throw new Error('not sealed');
  return servedAs(doc, n);
};

/** The patient's reader, whose grants say `spans` (or who keeps none of the patient's grants: null). */
const readerWith = (lookup: WriteGrantLookup): CodecDeps => ({ ...patientDeps, writeGrants: lookup });
const spansOf =
  (spans: readonly WriteSpan[] | null): WriteGrantLookup =>
  async () =>
    spans;
const span = (start: number, end: number): WriteSpan => ({ grantId: idOf(900), start, end });

describe('record codec: versions by accounts without a write grant (NO_WRITE_GRANT)', () => {
  it('takes a provider version dated within its write grant; refuses one when no write grant is known', async () => {
    const doc = await providerLab();
    expect(await decodeRecord(readerWith(spansOf([span(AT - MINUTE, AT + MINUTE)])), doc)).toMatchObject({
      ok: true,
      record: { by: provider.accountId },
    });
    const refused = await decodeRecord(readerWith(spansOf([])), doc);
    expect(refused).toMatchObject({ ok: false, reason: 'NO_WRITE_GRANT' });
    expect(refused.ok ? '' : refused.message).toContain(provider.accountId);
    // Without the lookup (no grants kept: not the patient's device) the version is taken as before.
    expect(await decodeRecord(patientDeps, doc)).toMatchObject({ ok: true });
    expect(await decodeRecord(readerWith(spansOf(null)), doc)).toMatchObject({ ok: true });
  });

  it('refuses a version dated after the write grant ended, or before it started, beyond the clock slack', async () => {
    const doc = await providerLab();
    const slack = WRITE_GRANT_SLACK_MS;
    const cases: Array<[string, WriteSpan, boolean]> = [
      ['ended an hour before', span(AT - 3 * 60 * MINUTE, AT - 60 * MINUTE), false],
      ['ended just over the slack before', span(AT - 60 * MINUTE, AT - slack), false],
      ['ended just within the slack before', span(AT - 60 * MINUTE, AT - slack + 1), true],
      ['starts an hour after', span(AT + 60 * MINUTE, AT + 120 * MINUTE), false],
      ['starts just over the slack after', span(AT + slack + 1, AT + 120 * MINUTE), false],
      ['starts just within the slack after', span(AT + slack, AT + 120 * MINUTE), true],
    ];
    for (const [what, s, taken] of cases) {
      const result = await decodeRecord(readerWith(spansOf([s])), doc);
      expect([what, result.ok ? 'taken' : result.reason]).toEqual([what, taken ? 'taken' : 'NO_WRITE_GRANT']);
    }
    // One grant of several covering the time is enough.
    const several = [span(AT - 120 * MINUTE, AT - 60 * MINUTE), span(AT - MINUTE, AT + MINUTE)];
    expect(await decodeRecord(readerWith(spansOf(several)), doc)).toMatchObject({ ok: true });
  });

  it("never asks for the patient's own versions, and asks once per batch for one writer's", async () => {
    const lookup = vi.fn<WriteGrantLookup>(async () => [span(AT - MINUTE, AT + MINUTE)]);
    const reader = readerWith(lookup);
    const own = await servedRecord(record({ stream, kind: 'LabResult', id: idOf(50) }));
    expect(await decodeRecord(reader, own)).toMatchObject({ ok: true });
    expect(lookup).not.toHaveBeenCalled();
    const results = await decodeRecords(reader, [await providerLab(1), await providerLab(2), own]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(lookup.mock.calls).toEqual([[patient.accountId, 'lab-result', provider.accountId]]);
  });

  it('refuses, for a retry, when the grants cannot be read', async () => {
    const result = await decodeRecord(
      readerWith(async () => Promise.reject(new Error('device meta unreadable'))),
      await providerLab(),
    );
    expect(result).toMatchObject({ ok: false, reason: 'NO_WRITE_GRANT' });
    expect(result.ok ? '' : result.message).toContain('device meta unreadable');
  });

  it('checks authorship and the signature first: a forged signature stays BAD_SIGNATURE', async () => {
    const doc = await providerLab();
    const other = await providerLab(2);
    const result = await decodeRecord(readerWith(spansOf([])), { ...doc, sig: other.sig! });
    expect(result).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
  });
});

describe('record codec: a version its writer may not write by the grants held asks for a fresh reading', () => {
  it("asks again with `fresh` when the copy's grants do not let the writer write then, and takes the version if the fresh answer does", async () => {
    const lookup = vi.fn<WriteGrantLookup>(async (_p, _t, _a, fresh) =>
      fresh === true ? [span(AT - MINUTE, AT + MINUTE)] : [],
    );
    const results = await decodeRecords(readerWith(lookup), [await providerLab(1), await providerLab(2)]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    // Once per batch and writer each way.
    expect(lookup.mock.calls).toEqual([
      [patient.accountId, 'lab-result', provider.accountId],
      [patient.accountId, 'lab-result', provider.accountId, true],
    ]);
  });

  it('does not ask again when the held grants answer, or when none are kept (null)', async () => {
    const covered = vi.fn<WriteGrantLookup>(async () => [span(AT - MINUTE, AT + MINUTE)]);
    expect(await decodeRecord(readerWith(covered), await providerLab())).toMatchObject({ ok: true });
    expect(covered.mock.calls).toHaveLength(1);
    const none = vi.fn<WriteGrantLookup>(async () => null);
    expect(await decodeRecord(readerWith(none), await providerLab())).toMatchObject({ ok: true });
    expect(none.mock.calls).toHaveLength(1);
  });

  it('refuses when the fresh answer does not let the writer write either, or fails', async () => {
    const outside = vi.fn<WriteGrantLookup>(async (_p, _t, _a, fresh) =>
      fresh === true ? [span(AT + 60 * MINUTE, AT + 120 * MINUTE)] : [],
    );
    const refused = await decodeRecord(readerWith(outside), await providerLab());
    expect(refused).toMatchObject({ ok: false, reason: 'NO_WRITE_GRANT' });
    expect(refused.ok ? '' : refused.message).toContain('outside every write grant');
    const failing = vi.fn<WriteGrantLookup>(async (_p, _t, _a, fresh) => {
      if (fresh === true) throw new Error('listing failed');
      return [];
    });
    const failed = await decodeRecord(readerWith(failing), await providerLab());
    expect(failed).toMatchObject({ ok: false, reason: 'NO_WRITE_GRANT' });
    expect(failed.ok ? '' : failed.message).toContain('listing failed');
  });
});

describe("record codec: a provider's merge, dated by the side it kept", () => {
  // The patient's device edited the lab result offline before the grant (AT); the provider, granted from
  // AT + 1 h, deleted it from an older copy (AT + 2 h). Its device merges (kept: the patient's edit,
  // with the deletion as a side) and the merge keeps the edit's `updatedAt`, signed by the provider.
  const grant = span(AT + 60 * MINUTE, AT + 24 * 60 * MINUTE);
  const merged = async (deletedAt: number) => {
    const edit = record({ stream, kind: 'LabResult', id: idOf(7), rv: 2 });
    const deletion = {
      ...edit,
      rv: 2,
      updatedAt: new Date(deletedAt).toISOString(),
      by: provider.accountId,
      author: providerDevice.deviceId,
      _deleted: true,
    };
    const merge = resolveRecordConflict(edit, deletion, {
      accountId: provider.accountId,
      deviceId: providerDevice.deviceId,
    });
    expect(merge).toMatchObject({ by: provider.accountId, updatedAt: edit.updatedAt, conflict: true });
    const grantee = depsFor(provider, providerRoot, providerDevice, [
      await signedEnvelope(stream, 0, k0, provider),
    ]);
    const doc = await encodeRecord(grantee, merge, { epoch: 0, key: k0 });
    if (!doc) throw new Error('not sealed');
    return servedAs(doc, 7);
  };

  it("is taken when the provider's own side of it lies within its write grant", async () => {
    const result = await decodeRecord(readerWith(spansOf([grant])), await merged(AT + 120 * MINUTE));
    expect(result).toMatchObject({ ok: true, record: { by: provider.accountId, conflict: true } });
  });

  it("is refused when neither its time nor the provider's own side lies within a write grant", async () => {
    const result = await decodeRecord(readerWith(spansOf([grant])), await merged(AT + 30 * MINUTE));
    expect(result).toMatchObject({ ok: false, reason: 'NO_WRITE_GRANT' });
    expect(await decodeRecord(readerWith(spansOf([])), await merged(AT + 120 * MINUTE))).toMatchObject({
      ok: false,
      reason: 'NO_WRITE_GRANT',
    });
  });
});
