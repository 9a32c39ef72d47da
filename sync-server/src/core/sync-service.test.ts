// Checks of the sync service that only a request crafted for them reaches: a grant id re-sent with other
// content, a revocation of a grant another patient issued, a key-holder answer past its cap, and audit
// entries re-pushed that differ from the stored one in a single field. Each is attempted over a real socket
// against a real server and store, and must be refused with its code and leave the store as it was.
// The last test shows the frame codec refusing, before the service runs, the requests whose service
// checks therefore cannot be reached over the socket (a self-grant, an audit header missing or misplaced).
import { createHash, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_KEY_HOLDERS,
  SIGNATURE_LABELS,
  auditSignaturePayload,
  docSignaturePayload,
  grantSignaturePayload,
  type PulledFrame,
  type PushDoc,
  type PushedFrame,
  type ServerFrame,
} from '@hale/protocol';
import { base64urlDecode, base64urlEncode, concatBytes, signingMessage } from '@hale/crypto';
import {
  connect,
  docRow,
  ed,
  makeAuditDoc,
  makeDoc,
  makeGrant,
  makeRevocation,
  registerAccount,
  rowCounts,
  sign,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from '../testing/harness';
import { verifyPayload } from './sync-service';

// ---- a second valid Ed25519 signature of the same message ----
// Ed25519 accepts any nonce r (R = rB, S = r + H(R‖A‖M)·a mod L); signers that derive r from key and
// message (as ours do) are one choice, randomised signers another, so one entry can carry many signatures.
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const littleEndian = (bytes: Uint8Array): bigint =>
  bytes.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);
const toLittleEndian32 = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};
const sha512 = (...parts: Uint8Array[]) =>
  new Uint8Array(
    createHash('sha512')
      .update(concatBytes(...parts))
      .digest(),
  );
/** The secret scalar Ed25519 derives from a 32-byte seed; the seed's public key is this scalar times B. */
const scalarOf = (seed: Uint8Array): bigint => {
  const h = sha512(seed).slice(0, 32);
  h[0]! &= 248;
  h[31]! &= 127;
  h[31]! |= 64;
  return littleEndian(h);
};
const signWithFreshNonce = (secretKey: Uint8Array, message: Uint8Array): Uint8Array => {
  const nonceSeed = new Uint8Array(randomBytes(32));
  const R = nacl.sign.keyPair.fromSeed(nonceSeed).publicKey;
  const k = littleEndian(sha512(R, secretKey.subarray(32), message)) % L;
  const S = (scalarOf(nonceSeed) + k * scalarOf(secretKey.subarray(0, 32))) % L;
  return concatBytes(R, toLittleEndian32(S));
};

describe('sync service refusals', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let p: WsClient;

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    p = await connect(t, patient.device);
  });
  afterEach(async () => {
    await p.close();
    await t.stop();
  });

  const pushOne = async (c: WsClient, doc: PushDoc) =>
    (await c.request<PushedFrame>({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev: null }] })).results[0];

  it('refuses a grant re-sent under a stored grant id with other content, the stored grant unchanged', async () => {
    const read = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await p.request({ t: 'grant', rid: p.rid(), grant: read })).t).toBe('ok');
    const stored = await t.store.grants.get(read.grant.grantId);

    // Signed by the patient and valid on its own: only its id is taken.
    const widened = { ...read.grant, scope: [{ type: 'allergy' as const, access: 'write' as const }] };
    const resent = {
      grant: widened,
      sig: await sign(patient.keys.identity.secretKey, grantSignaturePayload(widened)),
    };
    expect(await p.request({ t: 'grant', rid: p.rid(), grant: resent })).toMatchObject({
      t: 'error',
      code: 'ALREADY_EXISTS',
    });
    expect(await t.store.grants.get(read.grant.grantId)).toEqual(stored);
    // The exact grant again (a retry whose answer was lost) is still ok.
    expect((await p.request({ t: 'grant', rid: p.rid(), grant: read })).t).toBe('ok');
  });

  it("refuses a revocation of another patient's grant, even one the revoker signed as itself", async () => {
    const granted = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await p.request({ t: 'grant', rid: p.rid(), grant: granted })).t).toBe('ok');
    const intruder = await registerAccount(t);
    const i = await connect(t, intruder.device);
    // Names the intruder as the patient and carries its valid signature: only the grant is not its own.
    const revocation = await makeRevocation(intruder, granted.grant.grantId);
    expect(await i.request({ t: 'revoke', rid: i.rid(), revocation })).toMatchObject({
      t: 'error',
      code: 'NOT_FOUND',
    });
    await i.close();
    expect((await t.store.grants.get(granted.grant.grantId))?.revokedAt).toBeUndefined();
    const d = await connect(t, provider.device);
    const allergy = streamOf(patient.accountId, 'allergy');
    const pulled = await d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream: allergy, since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.denied).toEqual([]);
    await d.close();
  });

  it('refuses to list more than MAX_KEY_HOLDERS key holders (TOO_LARGE), and lists exactly that many', async () => {
    const allergy = streamOf(patient.accountId, 'allergy');
    // Written straight into the table in one transaction: as many through the store take too long.
    const insert = t.store.db.prepare(
      `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, sig, created_at)
       VALUES (?, ?, ?, 'k', 'w', ?, NULL, ?)`,
    );
    const holders = (from: number, to: number) =>
      t.store.db.transaction(() => {
        const at = new Date(t.clock.now).toISOString();
        for (let epoch = from; epoch < to; epoch++)
          insert.run(allergy, epoch, patient.accountId, patient.device.deviceId, at);
      })();
    holders(0, MAX_KEY_HOLDERS);
    const listed = await p.request<ServerFrame>({ t: 'listKeyHolders', rid: p.rid(), streams: [allergy] });
    expect(listed.t === 'keyHolders' && listed.holders.length).toBe(MAX_KEY_HOLDERS);

    holders(MAX_KEY_HOLDERS, MAX_KEY_HOLDERS + 1);
    const counts = rowCounts(t.store);
    expect(await p.request({ t: 'listKeyHolders', rid: p.rid(), streams: [allergy] })).toMatchObject({
      t: 'error',
      code: 'TOO_LARGE',
    });
    expect(rowCounts(t.store)).toEqual(counts);
  });

  it('refuses to acknowledge an audit entry re-pushed under another valid signature (APPEND_ONLY)', async () => {
    const entry = await makeAuditDoc(patient, patient.device);
    expect(await pushOne(p, entry)).toMatchObject({ status: 'ok', id: entry.id });
    const stored = docRow(t.store, entry.stream, entry.id);
    const counts = rowCounts(t.store);

    const payload = auditSignaturePayload({ ...entry, audit: entry.audit! });
    const sig = base64urlEncode(
      signWithFreshNonce(patient.device.keys.secretKey, signingMessage(SIGNATURE_LABELS.audit, payload)),
    );
    // Every field as stored but the signature, which verifies: the server would otherwise accept it.
    expect(sig).not.toBe(entry.sig);
    expect(await verifyPayload(ed, patient.device.keys.publicKey, payload, sig)).toBe(true);
    expect(await pushOne(p, { ...entry, sig })).toMatchObject({
      status: 'error',
      id: entry.id,
      code: 'APPEND_ONLY',
    });
    expect(docRow(t.store, entry.stream, entry.id)).toEqual(stored);
    expect(rowCounts(t.store)).toEqual(counts);
  });

  it('refuses to acknowledge an audit entry re-pushed when the stored one differs only in ciphertext', async () => {
    // The store does not check signatures, so a stored row can differ from what its signature covers
    // (a damaged row, or one not written by this server's push): written here through the store.
    const entry = await makeAuditDoc(patient, patient.device);
    const ct = base64urlDecode(entry.ct);
    if (!ct.ok) throw new Error('makeAuditDoc wrote bad base64url');
    const damaged = Uint8Array.from(ct.value);
    damaged[0]! ^= 1;
    const { ct: _pushedCt, ...fields } = entry;
    await t.store.docs.writeDocs(
      [{ doc: { ...fields, ct: damaged, size: damaged.byteLength }, assumedRev: null }],
      new Date(t.clock.now).toISOString(),
    );
    const stored = docRow(t.store, entry.stream, entry.id);
    const counts = rowCounts(t.store);

    expect(await pushOne(p, entry)).toMatchObject({ status: 'error', id: entry.id, code: 'APPEND_ONLY' });
    expect(docRow(t.store, entry.stream, entry.id)).toEqual(stored);
    expect(rowCounts(t.store)).toEqual(counts);
  });

  it('the frame codec refuses a self-grant and a missing or misplaced audit header before the service runs', async () => {
    const counts = rowCounts(t.store);
    const self = await makeGrant(patient, patient, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect(await p.request({ t: 'grant', rid: p.rid(), grant: self })).toMatchObject({
      t: 'error',
      code: 'BAD_MESSAGE',
    });

    const header = { authorSeq: 1, prevHash: null, at: new Date(t.clock.now).toISOString() };
    const allergy = await makeDoc(patient, patient.device, 'allergy', { title: 'x' });
    const { audit: _header, ...bare } = await makeAuditDoc(patient, patient.device);
    const misplaced: PushDoc[] = [
      { ...allergy, audit: header },
      { ...bare, sig: await sign(patient.device.keys.secretKey, docSignaturePayload(bare)) },
    ];
    for (const doc of misplaced) {
      expect(
        await p.request({ t: 'push', rid: p.rid(), rows: [{ doc, assumedRev: null }] }),
        doc.stream,
      ).toMatchObject({ t: 'error', code: 'BAD_MESSAGE' });
    }
    expect(rowCounts(t.store)).toEqual(counts);
  });
});
