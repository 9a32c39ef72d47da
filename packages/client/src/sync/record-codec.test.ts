import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  generateDeviceKeys,
  generateStreamKey,
  keyId,
  signCanonical,
  wrapKey,
} from '@hale/crypto';
import { RECORD_KINDS, RECORD_KIND_NAMES } from '@hale/model';
import { envelopeSignaturePayload, type KeyEnvelope } from '@hale/protocol';
import { decodeRecord, decodeRecords } from './record-codec';
import {
  dataOf,
  depsFor,
  ed,
  keyringFor,
  patient,
  patientDeps,
  patientDevice,
  provider,
  providerDevice,
  providerRoot,
  reasons,
  record,
  servedRecord,
  servedRecords,
} from './codec-fixture.test-util';

describe('record codec: what a reader refuses', () => {
  it('round-trips a record', async () => {
    const result = await decodeRecord(patientDeps, await servedRecord(record()));
    expect(result).toMatchObject({
      ok: true,
      record: { data: { substance: 'Latex', id: record().id }, by: patient.accountId },
    });
  });

  it('refuses ciphertext moved to another record (CONTEXT_MISMATCH)', async () => {
    const doc = await servedRecord(record());
    expect(await decodeRecord(patientDeps, { ...doc, id: '01J00000000000000000000002' })).toMatchObject({
      ok: false,
      reason: 'CONTEXT_MISMATCH',
    });
  });

  it('refuses a revision tag that does not match the content (BAD_TAG)', async () => {
    const a = await servedRecord(record());
    const b = await servedRecord(record({ data: { ...record().data, substance: 'Peanut' } }));
    expect(await decodeRecord(patientDeps, { ...a, rev: b.rev })).toMatchObject({
      ok: false,
      reason: 'BAD_TAG',
    });
  });

  it('refuses a deletion flag flipped in clear, either way (BAD_TAG)', async () => {
    const live = await servedRecord(record());
    expect(await decodeRecord(patientDeps, { ...live, deleted: true })).toMatchObject({
      ok: false,
      reason: 'BAD_TAG',
    });
    const tombstone = await servedRecord(record({ id: '01J00000000000000000000007', _deleted: true }));
    expect(tombstone.deleted).toBe(true);
    expect(await decodeRecord(patientDeps, { ...tombstone, deleted: false })).toMatchObject({
      ok: false,
      reason: 'BAD_TAG',
    });
  });

  it('refuses an author that is not a certified device of the account it names (BAD_AUTHOR)', async () => {
    const rogue = generateDeviceKeys();
    const deps = { ...patientDeps, device: { deviceId: rogue.deviceId, secretKey: rogue.secretKey } };
    expect(await decodeRecord(patientDeps, await servedRecord(record(), deps))).toMatchObject({
      ok: false,
      reason: 'BAD_AUTHOR',
    });
  });

  it('refuses a clinical record without a valid author signature (BAD_SIGNATURE)', async () => {
    const lab = record({ stream: `${patient.accountId}/lab-result`, kind: 'LabResult' });
    const doc = await servedRecord(lab);
    expect(doc.sig).toBeDefined();
    const { sig: _sig, ...unsigned } = doc;
    expect(await decodeRecord(patientDeps, unsigned)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    const other = await servedRecord(
      record({ stream: lab.stream, kind: 'LabResult', id: '01J00000000000000000000009' }),
    );
    expect(await decodeRecord(patientDeps, { ...doc, sig: other.sig! })).toMatchObject({
      ok: false,
      reason: 'BAD_SIGNATURE',
    });
  });

  it('refuses a key epoch the reader has no key for, and a planted unsigned key (both NO_KEY)', async () => {
    const doc = await servedRecord(record());
    expect(await decodeRecord(patientDeps, { ...doc, epoch: 5 })).toMatchObject({
      ok: false,
      reason: 'NO_KEY',
    });
    // The provider holds a (server-planted, unsigned) key for epoch 0 that is not the patient's.
    const planted = generateStreamKey();
    const stream = `${patient.accountId}/allergy` as KeyEnvelope['stream'];
    const env = {
      stream,
      epoch: 0,
      recipient: provider.accountId,
      keyId: keyId(planted),
      wrapped: wrapKey(planted, provider.wrapping.publicKey, { stream, epoch: 0 }),
      createdBy: patientDevice.deviceId,
    };
    const plantedDeps = depsFor(provider, providerRoot, providerDevice, [env]);
    // Unsigned: refused by the keyring, so the reader has no key at all.
    expect(await decodeRecord(plantedDeps, doc)).toMatchObject({ ok: false, reason: 'NO_KEY' });
  });
});

describe('record codec: content is checked against its stream and the model (BAD_CONTENT)', () => {
  const ID = '01J00000000000000000000001';
  const ALLERGY = `${patient.accountId}/allergy`;
  const LAB = `${patient.accountId}/lab-result`;
  const decoded = async (over: Parameters<typeof record>[0]) =>
    decodeRecord(patientDeps, await servedRecord(record(over)));

  it('takes a genuine record of every kind that travels in a stream, in its stream', async () => {
    const streamed = RECORD_KIND_NAMES.filter((kind) => RECORD_KINDS[kind].streamType !== null);
    expect(streamed.length).toBeGreaterThan(10);
    const rs = streamed.map((kind, n) =>
      record({
        id: `01J0000000000000000000K${String(n).padStart(3, '0')}`,
        kind,
        stream: `${patient.accountId}/${RECORD_KINDS[kind].streamType}`,
      }),
    );
    const out = await decodeRecords(patientDeps, await servedRecords(rs));
    expect(out).toEqual(rs.map((r) => ({ ok: true, record: r })));
  });

  it('takes genuine deletions: with the data they had, and with emptied data', async () => {
    const kept = record({ _deleted: true, rv: 2 });
    expect(await decoded(kept)).toEqual({ ok: true, record: kept });
    const emptied = record({ _deleted: true, rv: 3, data: {} });
    expect(await decoded(emptied)).toEqual({ ok: true, record: emptied });
    const lab = record({ stream: LAB, kind: 'LabResult', _deleted: true, rv: 2, data: {} });
    expect(await decoded(lab)).toEqual({ ok: true, record: lab });
  });

  it('refuses a kind that does not travel in the stream (an Allergy in lab-result, and its tombstone)', async () => {
    for (const deleted of [false, true]) {
      expect(await decoded({ stream: LAB, kind: 'Allergy', _deleted: deleted })).toMatchObject({
        ok: false,
        reason: 'BAD_CONTENT',
        message: expect.stringContaining('lab-result') as unknown,
      });
    }
    // Valid LabResult data does not help an Allergy label, nor a LabResult into the allergy stream.
    expect(
      await decoded({ stream: LAB, kind: 'Allergy', data: dataOf('LabResult', ID, patient.accountId) }),
    ).toMatchObject({ ok: false, reason: 'BAD_CONTENT' });
    expect(await decoded({ stream: ALLERGY, kind: 'LabResult' })).toMatchObject({
      ok: false,
      reason: 'BAD_CONTENT',
    });
  });

  it('refuses kinds outside the model and kinds kept outside streams', async () => {
    for (const kind of ['Bogus', 'constructor', '__proto__']) {
      expect(await decoded({ kind, data: dataOf('Allergy', ID, patient.accountId) })).toMatchObject({
        ok: false,
        reason: 'BAD_CONTENT',
      });
    }
    expect(
      await decoded({ stream: ALLERGY, kind: 'Consent', data: dataOf('Consent', ID, patient.accountId) }),
    ).toMatchObject({ ok: false, reason: 'BAD_CONTENT' });
  });

  it('refuses data the model does not validate (missing, unknown or ill-typed fields), live or deleted', async () => {
    const { substance: _s, ...noSubstance } = dataOf('Allergy', ID, patient.accountId);
    const bad = [
      noSubstance,
      { ...dataOf('Allergy', ID, patient.accountId), note: 'not a field of Allergy' },
      { ...dataOf('Allergy', ID, patient.accountId), severity: 'lethal' },
      { id: ID, patientId: patient.accountId },
    ];
    for (const data of bad) {
      for (const deleted of [false, true]) {
        expect(await decoded({ data, _deleted: deleted })).toMatchObject({
          ok: false,
          reason: 'BAD_CONTENT',
          message: expect.stringContaining('Allergy is invalid') as unknown,
        });
      }
    }
    // Cross-field rules count too: a medication that ends before it starts.
    expect(
      await decoded({
        stream: `${patient.accountId}/medication`,
        kind: 'Medication',
        data: dataOf('Medication', ID, patient.accountId, {
          startDate: '2024-05-02',
          endDate: '2024-05-01',
        }),
      }),
    ).toMatchObject({ ok: false, reason: 'BAD_CONTENT' });
  });

  it("refuses data naming another record id than the doc's", async () => {
    const other = dataOf('Allergy', '01J00000000000000000000002', patient.accountId);
    const { id: _id, ...noId } = other;
    for (const data of [other, noId]) {
      expect(await decoded({ data })).toMatchObject({
        ok: false,
        reason: 'BAD_CONTENT',
        message: 'the record data names another id',
      });
    }
  });

  it("refuses data naming another patient than the stream's", async () => {
    const data = dataOf('Allergy', ID, provider.accountId);
    for (const deleted of [false, true]) {
      expect(await decoded({ data, _deleted: deleted })).toMatchObject({
        ok: false,
        reason: 'BAD_CONTENT',
        message: expect.stringContaining('another patient') as unknown,
      });
    }
  });

  it('refuses per document in a batch and takes the rest', async () => {
    const rs = [
      record({ id: '01J00000000000000000000011' }),
      record({ id: '01J00000000000000000000012', stream: LAB, kind: 'Allergy' }),
      record({ id: '01J00000000000000000000013', stream: LAB, kind: 'LabResult' }),
      record({ id: '01J00000000000000000000014', data: dataOf('Allergy', ID, patient.accountId) }),
    ];
    expect(reasons(await decodeRecords(patientDeps, await servedRecords(rs)))).toEqual([
      'ok',
      'BAD_CONTENT',
      'ok',
      'BAD_CONTENT',
    ]);
  });
});

describe('keyring: envelopes a server could plant', () => {
  const stream = `${patient.accountId}/allergy` as KeyEnvelope['stream'];
  const envelope = async (key: Uint8Array, signer: typeof patientDevice, over: Partial<KeyEnvelope> = {}) => {
    const env = {
      stream,
      epoch: 1,
      recipient: provider.accountId,
      keyId: keyId(key),
      wrapped: wrapKey(key, provider.wrapping.publicKey, { stream, epoch: 1 }),
      createdBy: signer.deviceId,
      ...over,
    };
    const payload = envelopeSignaturePayload(env);
    return {
      ...env,
      sig: base64urlEncode(await signCanonical(ed, signer.secretKey, payload.label, payload)),
    };
  };

  it("accepts a key wrapped and signed by the patient's device", async () => {
    const key = generateStreamKey();
    const ring = keyringFor(provider, providerRoot, providerDevice, [await envelope(key, patientDevice)]);
    expect(await ring.keyFor(stream, 1)).toEqual(key);
  });

  it('a planted envelope for the same key does not shadow the genuine one', async () => {
    const key = generateStreamKey();
    const planted = await envelope(key, providerDevice);
    const ring = keyringFor(provider, providerRoot, providerDevice, [
      planted,
      await envelope(key, patientDevice),
    ]);
    expect(await ring.keyFor(stream, 1)).toEqual(key);
  });

  it('rejects unsigned, foreign-signed, mislabelled and misaddressed envelopes, and reports why', async () => {
    const key = generateStreamKey();
    const rejected: string[] = [];
    const { sig: _s, ...unsigned } = await envelope(key, patientDevice);
    const bad = [
      unsigned,
      await envelope(key, providerDevice), // signed by a device that is not the patient's
      await envelope(key, patientDevice, { keyId: keyId(generateStreamKey()) }), // key id does not match
      await envelope(key, patientDevice, { recipient: patient.accountId }), // addressed to someone else
    ];
    const ring = keyringFor(provider, providerRoot, providerDevice, bad, {
      onRejectedEnvelope: (_env, reason) => rejected.push(reason),
    });
    expect(await ring.keyFor(stream, 1)).toBeNull();
    expect(rejected).toHaveLength(4);
    expect(rejected.join('|')).toMatch(/unsigned.*not signed by a device.*key id mismatch.*not addressed/);
  });
});
