import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  checkContentRevisionTag,
  contentRevisionTag,
  deriveAccountKeys,
  deriveInitialStreamKey,
  deriveRevisionTagKey,
  generateDeviceKeys,
  generateStreamKey,
  keyId,
  sealRecordVersion,
  signCanonical,
  wrapKey,
} from '@hale/crypto';
import { RECORD_KINDS, RECORD_KIND_NAMES } from '@hale/model';
import {
  docSignaturePayload,
  envelopeSignaturePayload,
  type KeyEnvelope,
  type PushDoc,
} from '@hale/protocol';
import { decodeRecord, decodeRecords, encodeRecord, sameVersion, tagOf } from './record-codec';
import type { PlainRecord } from '../records/plain-record';
import {
  contentOf,
  dataOf,
  depsFor,
  ed,
  forgedBeside,
  keyringFor,
  patient,
  patientDeps,
  patientDevice,
  patientRoot,
  provider,
  providerDevice,
  providerRoot,
  reasons,
  record,
  servedAs,
  servedRecord,
  servedRecords,
  signedEnvelope,
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

  it("signs a grantee's write to a non-clinical stream, and refuses one in its name without that signature (BAD_SIGNATURE)", async () => {
    const stream = `${patient.accountId}/allergy`;
    const k0 = deriveInitialStreamKey(patientRoot, stream);
    const grantee = depsFor(provider, providerRoot, providerDevice, [
      await signedEnvelope(stream, 0, k0, provider),
    ]);
    const theirs = record({ by: provider.accountId, author: providerDevice.deviceId });
    const doc = servedAs((await encodeRecord(grantee, theirs, { epoch: 0, key: k0 }))!);
    expect(doc.sig).toBeDefined();
    expect(await decodeRecord(patientDeps, doc)).toEqual({ ok: true, record: theirs });
    // A server dropping the signature; any other holder of the stream key (the patient, a read-only
    // grantee) sealing and tagging content in the provider's name, without the provider's device key.
    const { sig: _dropped, ...unsigned } = doc;
    const forger = { ...patientDeps, device: { ...patientDeps.device, deviceId: providerDevice.deviceId } };
    const forged = record({ ...theirs, data: { ...theirs.data, substance: 'Peanut' } });
    const { sig: _own, ...inTheirName } = servedAs(
      (await encodeRecord(forger, forged, { epoch: 0, key: k0 }))!,
    );
    for (const refused of [unsigned, inTheirName]) {
      expect(await decodeRecord(patientDeps, refused)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    }
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

  it('refuses emptied data on a live version (only a deletion may carry it)', async () => {
    expect(await decoded({ data: {} })).toMatchObject({ ok: false, reason: 'BAD_CONTENT' });
    expect(await decoded({ stream: LAB, kind: 'LabResult', data: {} })).toMatchObject({
      ok: false,
      reason: 'BAD_CONTENT',
    });
  });

  it('refuses sealed content whose conflict flag is missing or not a boolean', async () => {
    const r = record();
    const doc = await servedRecord(r);
    const key = deriveInitialStreamKey(patientRoot, r.stream);
    const { conflict: _c, ...noFlag } = contentOf(r);
    for (const content of [noFlag, { ...contentOf(r), conflict: 'no' }, { ...contentOf(r), conflict: 0 }]) {
      // Sealed beside the doc's own tag, as any holder of the stream key can.
      expect(await decodeRecord(patientDeps, forgedBeside(doc, key, content))).toMatchObject({
        ok: false,
        reason: 'BAD_CONTENT',
        message: 'sealed content has the wrong shape',
      });
    }
    expect(await decodeRecord(patientDeps, forgedBeside(doc, key, contentOf(r)))).toEqual({
      ok: true,
      record: r,
    });
  });

  it('refuses sealed content holding what canonical JSON cannot write (a lone surrogate outside data)', async () => {
    const r = record();
    const doc = await servedRecord(r);
    const key = deriveInitialStreamKey(patientRoot, r.stream);
    // Valid JSON (`"\ud800"`), sealed beside the doc's own tag, as any holder of the stream key can: no
    // writer's sealing makes it, and this device could neither tag nor store it.
    for (const content of [
      { ...contentOf(r), conflictData: { note: '\ud800' } },
      { ...contentOf(r), updatedAt: '2026-01-01T00:00:00.000Z\udc00' },
    ]) {
      expect(await decodeRecord(patientDeps, forgedBeside(doc, key, content))).toMatchObject({
        ok: false,
        reason: 'BAD_CONTENT',
        message: 'sealed content holds a value canonical JSON cannot write',
      });
    }
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

  it("refuses a planted key whose envelope names the patient's device but was not signed by it", async () => {
    const key = generateStreamKey();
    const genuine = await envelope(key, patientDevice);
    const planted = generateStreamKey();
    const plantedFields = {
      keyId: keyId(planted),
      wrapped: wrapKey(planted, provider.wrapping.publicKey, { stream, epoch: 1 }),
    };
    const rejected: string[] = [];
    const ring = keyringFor(
      provider,
      providerRoot,
      providerDevice,
      [
        { ...genuine, ...plantedFields }, // a genuine envelope's signature copied
        await envelope(planted, providerDevice, { createdBy: patientDevice.deviceId }), // signed by another key
        genuine,
      ],
      { onRejectedEnvelope: (_env, reason) => rejected.push(reason) },
    );
    expect(await ring.keyFor(stream, 1)).toEqual(key);
    expect(rejected).toEqual([
      "not signed by a device of the stream's patient",
      "not signed by a device of the stream's patient",
    ]);
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

describe('record codec: a signed version binds its content (Defect: signature over the tag only)', () => {
  const LAB = `${patient.accountId}/lab-result`;
  const ID = '01J00000000000000000000042';
  const k0 = deriveInitialStreamKey(patientRoot, LAB);
  const k1 = generateStreamKey();
  /** The provider, granted write to lab results at epochs 0 and 1 (envelopes signed by the patient). */
  const providerAt = async () =>
    depsFor(provider, providerRoot, providerDevice, [
      await signedEnvelope(LAB, 0, k0, provider),
      await signedEnvelope(LAB, 1, k1, provider),
    ]);
  /** The patient's device, holding epoch 1 too. */
  const patientAt = async () => ({
    ...patientDeps,
    keyring: keyringFor(patient, patientRoot, patientDevice, [await signedEnvelope(LAB, 1, k1, patient)]),
  });
  const lab = (over: Parameters<typeof record>[0] = {}) =>
    record({
      id: ID,
      stream: LAB,
      kind: 'LabResult',
      by: provider.accountId,
      author: providerDevice.deviceId,
      data: dataOf('LabResult', ID, patient.accountId, { value: 98 }),
      ...over,
    });
  const forgedContent = (r: PlainRecord, over: Record<string, unknown>) => ({
    ...contentOf(r),
    data: { ...r.data, ...over },
  });

  it("refuses other content sealed beside a provider's signed tag by a holder of the stream key (BAD_TAG)", async () => {
    const deps = await providerAt();
    const genuine = lab();
    const served = servedAs((await encodeRecord(deps, genuine, { epoch: 0, key: k0 }))!);
    expect(served.sig).toBeDefined();
    const reader = await patientAt();
    expect(await decodeRecord(reader, served)).toEqual({ ok: true, record: genuine });

    // Any holder of k0 (a read-only grantee, a revoked one, the patient) and the server.
    const tampered = forgedBeside(served, k0, forgedContent(genuine, { value: 412, status: 'final' }));
    expect(await decodeRecord(reader, tampered)).toMatchObject({ ok: false, reason: 'BAD_TAG' });
    // Same content re-sealed (new nonce) is still the signed version.
    expect(await decodeRecord(reader, forgedBeside(served, k0, contentOf(genuine)))).toEqual({
      ok: true,
      record: genuine,
    });
    // Another grantee reading the stream refuses it too.
    expect(await decodeRecord(deps, tampered)).toMatchObject({ ok: false, reason: 'BAD_TAG' });
  });

  it('refuses the same at a later epoch, and for a signed record the patient wrote', async () => {
    const deps = await providerAt();
    const reader = await patientAt();
    const genuine = lab({ rv: 2 });
    const served = servedAs((await encodeRecord(deps, genuine, { epoch: 1, key: k1 }))!);
    expect(await decodeRecord(reader, served)).toEqual({ ok: true, record: { ...genuine, epoch: 1 } });
    const tampered = forgedBeside(served, k1, forgedContent(genuine, { value: 7 }));
    expect(await decodeRecord(reader, tampered)).toMatchObject({ ok: false, reason: 'BAD_TAG' });

    // A clinical record of the patient's is signed by the patient's device; a provider holding the key
    // cannot replace its content either.
    const own = lab({ by: patient.accountId, author: patientDevice.deviceId });
    const ownServed = servedAs((await encodeRecord(reader, own, { epoch: 0, key: k0 }))!);
    expect(ownServed.sig).toBeDefined();
    expect(await decodeRecord(deps, ownServed)).toEqual({ ok: true, record: own });
    const swapped = forgedBeside(ownServed, k0, forgedContent(own, { value: 1 }));
    expect(await decodeRecord(deps, swapped)).toMatchObject({ ok: false, reason: 'BAD_TAG' });
  });

  it('refuses content no writer could have tagged (a lone surrogate) without throwing', async () => {
    const deps = await providerAt();
    const genuine = lab();
    const served = servedAs((await encodeRecord(deps, genuine, { epoch: 0, key: k0 }))!);
    const tampered = forgedBeside(served, k0, forgedContent(genuine, { testName: 'glucose \ud800' }));
    // The record rules refuse a lone surrogate first; with rules that let it through, the tag check still does.
    expect(await decodeRecord(patientDeps, tampered)).toMatchObject({ ok: false, reason: 'BAD_CONTENT' });
    const lenient = {
      ...patientDeps,
      model: { version: 'lenient', validateRecord: () => ({ ok: true }) as const },
    };
    expect(await decodeRecord(lenient, tampered)).toMatchObject({ ok: false, reason: 'BAD_TAG' });
  });

  it('refuses a signed version sealed at epoch ≥ 1 with a tag under the epoch-0 tag key', async () => {
    const reader = await patientAt();
    const genuine = lab({ rv: 3 });
    const sealed = sealRecordVersion(
      k1,
      deriveRevisionTagKey(k0),
      { stream: LAB, id: ID, epoch: 1, rev: 3, deleted: false },
      contentOf(genuine),
    );
    const doc = {
      stream: LAB as PushDoc['stream'],
      id: ID,
      rev: sealed.tag,
      deleted: false,
      epoch: 1,
      ct: base64urlEncode(sealed.sealed),
      author: providerDevice.deviceId,
    };
    const payload = docSignaturePayload(doc);
    const signed = servedAs({
      ...doc,
      sig: base64urlEncode(await signCanonical(ed, providerDevice.secretKey, payload.label, payload)),
    });
    expect(await decodeRecord(reader, signed)).toMatchObject({ ok: false, reason: 'BAD_TAG' });
  });
});

describe('revision tags follow the key epoch (Defect: the tag key survived rotations)', () => {
  const MED = `${patient.accountId}/medication`;
  const ID = '01J00000000000000000000077';
  const k1 = generateStreamKey();
  const before = record({
    id: ID,
    stream: MED,
    kind: 'Medication',
    data: dataOf('Medication', ID, patient.accountId, { active: true }),
  });

  it('epoch-0 tags are unchanged, byte for byte', async () => {
    // Fixed inputs; the expected tags were computed by the code before tag keys followed the epoch.
    const root = new Uint8Array(32).fill(7);
    const keys = deriveAccountKeys(root);
    expect(keys.accountId).toBe('2JSxGouKmAtG_inJGCCuMt');
    const stream = `${keys.accountId}/allergy`;
    const id = '01J00000000000000000000001';
    const at = '2026-01-01T00:00:00.000Z';
    const r = record({
      id,
      stream,
      patientId: keys.accountId,
      by: keys.accountId,
      rv: 3,
      updatedAt: at,
      data: { id, patientId: keys.accountId, substance: 'Latex', createdAt: at, updatedAt: at },
    });
    const deps = {
      ...patientDeps,
      keyring: keyringFor(keys, root, patientDevice),
      accountId: keys.accountId,
    };
    const doc = await encodeRecord(deps, r, (await deps.keyring.writeKey(stream))!);
    expect(doc).toMatchObject({ epoch: 0, rev: '3-8ed367ba960f7f902006adb0' });
    expect(await tagOf(deps.keyring, r)).toBe('3-8ed367ba960f7f902006adb0');
    const tagKey0 = deriveRevisionTagKey(deriveInitialStreamKey(root, stream));
    expect(await deps.keyring.tagKey(stream, 0)).toEqual(tagKey0);
    expect(contentRevisionTag(tagKey0, { stream, id, rev: 3, deleted: false, data: { a: 1 } })).toBe(
      '3-4ae6e748ae751bca5c567b0b',
    );
  });

  it('a version sealed at epoch 1 is tagged with epoch 1’s tag key: the epoch-0 key does not reproduce it', async () => {
    const deps = {
      ...patientDeps,
      keyring: keyringFor(patient, patientRoot, patientDevice, [await signedEnvelope(MED, 1, k1, patient)]),
    };
    const t = Date.parse('2026-03-01T10:00:00.000Z') + 1234;
    const after = {
      ...before,
      rv: 2,
      updatedAt: new Date(t).toISOString(),
      data: { ...before.data, active: false, updatedAt: new Date(t).toISOString() },
    };
    const pushed = (await encodeRecord(deps, after, { epoch: 1, key: k1 }))!;
    expect(pushed.epoch).toBe(1);
    const state = { stream: MED, id: ID, rev: 2, deleted: false, data: contentOf(after) };
    expect(checkContentRevisionTag(deriveRevisionTagKey(k1), pushed.rev, state).ok).toBe(true);
    expect(await deps.keyring.tagKey(MED, 1)).toEqual(deriveRevisionTagKey(k1));

    // A grantee revoked before epoch 1 holds only the epoch-0 key: guessing the edit (the change and its
    // time, to the millisecond within ±2 s of the server's arrival time) finds nothing.
    const tagKey0 = deriveRevisionTagKey(deriveInitialStreamKey(patientRoot, MED));
    expect(checkContentRevisionTag(tagKey0, pushed.rev, state).ok).toBe(false);
    const approx = Date.parse('2026-03-01T10:00:01.000Z');
    let found = 0;
    for (const active of [true, false]) {
      for (let dt = -2000; dt <= 2000; dt++) {
        const at = new Date(approx + dt).toISOString();
        const data = { ...contentOf(after), updatedAt: at, data: { ...before.data, active, updatedAt: at } };
        if (contentRevisionTag(tagKey0, { ...state, data }) === pushed.rev) found++;
      }
    }
    expect(found).toBe(0);

    // Readers and the tag of the assumed master state use the version's epoch.
    const decoded = await decodeRecord(deps, servedAs(pushed));
    expect(decoded).toEqual({ ok: true, record: { ...after, epoch: 1 } });
    expect(await tagOf(deps.keyring, { ...after, epoch: 1 })).toBe(pushed.rev);
    // The local copy of a version this device pushed still names the epoch it was based on (0 here).
    expect(await tagOf(deps.keyring, after)).not.toBe(pushed.rev);
    expect(await tagOf(deps.keyring, after, 1)).toBe(pushed.rev);
  });

  it('the keyring answers one tag key per epoch it holds, none for an epoch it lacks', async () => {
    const ring = keyringFor(patient, patientRoot, patientDevice, [await signedEnvelope(MED, 1, k1, patient)]);
    const t0 = await ring.tagKey(MED, 0);
    const t1 = await ring.tagKey(MED, 1);
    expect(t0).toEqual(deriveRevisionTagKey(deriveInitialStreamKey(patientRoot, MED)));
    expect(t1).toEqual(deriveRevisionTagKey(k1));
    expect(t0).not.toEqual(t1);
    expect(await ring.tagKey(MED, 1)).toBe(t1); // remembered
    expect(await ring.tagKey(MED, 2)).toBeNull();
  });

  it('tagOf (what freshness compares versions by) tells a deletion from the live version under its number', async () => {
    const ring = keyringFor(patient, patientRoot, patientDevice);
    expect(await tagOf(ring, { ...before, _deleted: true })).not.toBe(await tagOf(ring, before));
    expect(await tagOf(ring, { ...before })).toBe(await tagOf(ring, before));
  });

  it('sameVersion: one version whatever epoch each copy names; another rv, deletion or content is not', () => {
    expect(sameVersion(before, { ...before, epoch: 3, author: 'another device' })).toBe(true);
    expect(sameVersion(before, { ...before, rv: 2 })).toBe(false);
    expect(sameVersion(before, { ...before, _deleted: true })).toBe(false);
    expect(sameVersion(before, { ...before, data: { ...before.data, active: false } })).toBe(false);
    expect(sameVersion(before, { ...before, updatedAt: '2027-01-01T00:00:00.000Z' })).toBe(false);
    const lone = { ...before, data: { ...before.data, note: '\ud800' } };
    expect(sameVersion(lone, lone)).toBe(false);
  });
});

describe('record codec: versions by a device its account revoked', () => {
  /** The patient's reader, told that the patient's device was revoked at `revokedAt`. */
  const readerRevokedAt = (revokedAt: string) => ({
    ...patientDeps,
    lookupDeviceKey: async (account: string, device: string) =>
      account === patient.accountId && device === patientDevice.deviceId
        ? { status: 'found' as const, key: patientDevice.publicKey, revokedAt }
        : { status: 'unknown' as const },
  });

  it('takes a signed version dated before the revocation; refuses one dated at or after it (BAD_AUTHOR)', async () => {
    const lab = record({ stream: `${patient.accountId}/lab-result`, kind: 'LabResult' });
    const doc = await servedRecord(lab);
    expect(doc.sig).toBeDefined();
    expect(lab.updatedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(await decodeRecord(readerRevokedAt('2026-01-01T00:00:00.001Z'), doc)).toEqual({
      ok: true,
      record: lab,
    });
    for (const revokedAt of ['2026-01-01T00:00:00.000Z', '2025-12-31T23:59:59.999Z']) {
      const result = await decodeRecord(readerRevokedAt(revokedAt), doc);
      expect(result).toMatchObject({ ok: false, reason: 'BAD_AUTHOR' });
      expect(result.ok ? '' : result.message).toContain(`was revoked at ${revokedAt}`);
    }
  });

  it("takes the patient's own unsigned version dated before the revocation, as an active device's; refuses one dated at or after it", async () => {
    const own = record();
    const doc = await servedRecord(own);
    expect(doc.sig).toBeUndefined();
    expect(await decodeRecord(patientDeps, doc)).toEqual({ ok: true, record: own });
    expect(await decodeRecord(readerRevokedAt('2027-01-01T00:00:00.000Z'), doc)).toEqual({
      ok: true,
      record: own,
    });
    expect(await decodeRecord(readerRevokedAt(own.updatedAt), doc)).toMatchObject({
      ok: false,
      reason: 'BAD_AUTHOR',
    });
  });
});
