import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  generateDeviceKeys,
  generateStreamKey,
  keyId,
  signCanonical,
  wrapKey,
} from '@hale/crypto';
import { envelopeSignaturePayload, type KeyEnvelope } from '@hale/protocol';
import { decodeRecord } from './record-codec';
import {
  depsFor,
  ed,
  keyringFor,
  patient,
  patientDeps,
  patientDevice,
  provider,
  providerDevice,
  providerRoot,
  record,
  servedRecord,
} from './codec-fixture.test-util';

describe('record codec: what a reader refuses', () => {
  it('round-trips a record', async () => {
    const result = await decodeRecord(patientDeps, await servedRecord(record()));
    expect(result).toMatchObject({
      ok: true,
      record: { data: { substance: 'Latex' }, by: patient.accountId },
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
    const b = await servedRecord(record({ data: { substance: 'Peanut' } }));
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
