/*
 * Conformance of `SyncStore.accounts.erase` (types.ts), declared inside `runStoreConformance`: an account
 * with records (audit included), envelopes, a file, grants given and received, acceptances, sessions, a
 * challenge and a link is erased whole, answering what went; other accounts keep theirs; the grantees of
 * its grants see a grant change; the erased account cannot be erased again; its id may be registered anew.
 */
import { describe, expect, it } from 'vitest';
import { auditWrite, isoAt, makeAccount, makeDevice, makeDocInput } from './conformance.test-util';
import { isStoreError, sealedChunkBounds, type Grant, type SyncStore } from './types';

const P = 'ErasedPatient_01234567';
const Q = 'KeptPatient_0123456789';
const C = 'Clinician_01234567890';
const S = `${P}/allergy`;
const QS = `${Q}/allergy`;

const grant = (grantId: string, patientId: string, granteeId: string): Grant => ({
  grantId,
  patientId,
  granteeId,
  scope: [{ type: 'allergy', access: 'read' }],
  start: isoAt(0),
  expiresAt: isoAt(86_400),
  issuedAt: isoAt(1),
  signed: { body: { grantId }, sig: 'sig' },
});
const env = (stream: string, recipient: string) => ({
  stream,
  epoch: 1,
  recipient,
  keyId: 'k-1',
  wrapped: `w-${stream}-${recipient}`,
  createdBy: 'dev-p1',
  createdAt: isoAt(1),
});
const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isStoreError(error) ? error.code : String(error);
  }
};

export const describeEraseConformance = (store: () => SyncStore): void => {
  describe('accounts.erase', () => {
    const seed = async () => {
      const s = store();
      await s.accounts.register(makeAccount(P, { loginName: 'erased-login' }), makeDevice('dev-p1', P));
      await s.devices.put(makeDevice('dev-p2', P));
      await s.accounts.register(makeAccount(Q), makeDevice('dev-q', Q));
      await s.accounts.register(makeAccount(C, { role: 'provider' }), makeDevice('dev-c', C));
      const w = (stream: string, id: string, rev: string, assumedRev: string | null) => ({
        doc: makeDocInput(stream, id, rev, { author: 'dev-p1' }),
        assumedRev,
      });
      await s.docs.writeDocs([w(S, 'a', '1-a', null), w(S, 'b', '1-b', null)], isoAt(2));
      await s.docs.writeDocs([w(S, 'a', '2-a', '1-a')], isoAt(3));
      await s.docs.writeDocs([auditWrite(`${P}/audit`, 'au-1', 'dev-p1', 1)], isoAt(3));
      await s.docs.writeDocs([w(QS, 'q', '1-q', null)], isoAt(3));
      await s.envelopes.putAll([env(S, P), env(S, C), env(QS, P), env(QS, Q)]);
      const manifest = {
        blobId: 'erased-blob',
        stream: `${P}/document`,
        size: 4,
        chunkSize: 4,
        chunkCount: 1,
        digests: ['d0'],
        createdBy: 'dev-p1',
        createdAt: isoAt(4),
      };
      await s.blobs.putManifest(manifest);
      await s.blobs.putChunk('erased-blob', 0, new Uint8Array(sealedChunkBounds(manifest, 0).min).fill(7));
      await s.grants.put(grant('g-given', P, C));
      await s.grants.put(grant('g-received', Q, P));
      await s.grants.put(grant('g-kept', Q, C));
      await s.acceptances.put({ granteeId: C, patientId: P, acceptedAt: isoAt(5) }, 10);
      await s.acceptances.put({ granteeId: C, patientId: Q, acceptedAt: isoAt(5) }, 10);
      await s.acceptances.put({ granteeId: P, patientId: Q, acceptedAt: isoAt(5) }, 10);
      const session = (tokenHash: string, deviceId: string, accountId: string) => ({
        tokenHash,
        deviceId,
        accountId,
        expiresAt: isoAt(86_400),
      });
      await s.sessions.put(session('tok-p', 'dev-p1', P));
      await s.sessions.put(session('tok-q', 'dev-q', Q));
      await s.challenges.put({
        challengeId: 'ch-p',
        deviceId: 'dev-p2',
        nonce: 'n',
        expiresAt: isoAt(86_400),
      });
      await s.shl.create({
        linkId: 'ErasedLink_0000000001',
        tokenHash: 'e'.repeat(64),
        patientId: P,
        types: ['allergy'],
        sealed: 'sealed-card',
        attemptsLeft: 3,
        emergency: true,
        contentType: 'application/fhir+json',
        jwe: 'eyJ.x.y.z.w',
        createdAt: isoAt(6),
      });
    };

    it('erases everything of the account and answers what went; others keep theirs', async () => {
      await seed();
      const s = store();
      const before = await s.grants.changesSince(0);
      const erase = (id: string) => {
        if (s.accounts.erase === undefined) throw new Error('this store cannot erase accounts');
        return s.accounts.erase(id);
      };
      const erased = await erase(P);
      expect({ ...erased, deviceIds: [...erased.deviceIds].sort() }).toEqual({
        docs: 3,
        blobs: 1,
        grants: 2,
        envelopes: 3,
        deviceIds: ['dev-p1', 'dev-p2'],
        granteeIds: [C],
      });

      // Nothing of it is read.
      expect(await s.accounts.get(P)).toBeNull();
      expect(await s.accounts.getByLogin('erased-login')).toBeNull();
      expect(await s.devices.get('dev-p1')).toBeNull();
      expect(await s.devices.get('dev-p2')).toBeNull();
      expect(await s.devices.listForAccount(P)).toEqual([]);
      expect(await s.sessions.get('tok-p')).toBeNull();
      expect(await s.challenges.take('ch-p')).toBeNull();
      expect(await s.docs.readDocs(S, 0, 100, 1 << 20)).toMatchObject({ docs: [] });
      expect(await s.docs.streamHeads([S, `${P}/audit`])).toEqual([
        { stream: S, head: 0 },
        { stream: `${P}/audit`, head: 0 },
      ]);
      expect(await s.docs.getDoc(S, 'a')).toBeNull();
      expect(await s.docs.auditChainEnd(`${P}/audit`, 'dev-p1')).toBeNull();
      expect(await s.envelopes.list(P)).toEqual([]);
      expect((await s.envelopes.list(C)).map((e) => e.stream)).toEqual([]);
      expect(await s.envelopes.currentEpoch(S)).toBeNull();
      expect((await s.envelopes.holders([QS], 10)).map((h) => h.recipient)).toEqual([Q]);
      expect(await s.blobs.getManifest('erased-blob')).toBeNull();
      expect(await s.blobs.getChunk('erased-blob', 0)).toBeNull();
      expect(await s.grants.get('g-given')).toBeNull();
      expect(await s.grants.get('g-received')).toBeNull();
      expect((await s.grants.listForGrantee(C)).map((g) => g.grantId)).toEqual(['g-kept']);
      expect((await s.grants.listForPatient(Q)).map((g) => g.grantId)).toEqual(['g-kept']);
      expect(await s.acceptances.has(C, P)).toBe(false);
      expect(await s.acceptances.count(P)).toBe(0);
      expect(await s.shl.list(P, 10)).toEqual([]);
      expect(await s.shl.byToken('e'.repeat(64))).toBeNull();

      // Its grantee sees a grant change; the erased account is no grantee any more.
      const after = await s.grants.changesSince(before.position);
      expect(after.position).toBeGreaterThan(before.position);
      expect(after.granteeIds).toContain(C);
      expect((await s.grants.changesSince(0)).granteeIds).not.toContain(P);

      // Others keep theirs.
      expect((await s.accounts.get(Q))?.accountId).toBe(Q);
      expect((await s.sessions.get('tok-q'))?.deviceId).toBe('dev-q');
      expect((await s.docs.readDocs(QS, 0, 100, 1 << 20)).docs.map((d) => d.id)).toEqual(['q']);
      expect(await s.grants.get('g-kept')).not.toBeNull();
      expect(await s.acceptances.has(C, Q)).toBe(true);
      expect((await s.envelopes.list(Q)).map((e) => e.stream)).toEqual([QS]);
      // Append-only still holds for the others' audit streams.
      await s.docs.writeDocs([auditWrite(`${Q}/audit`, 'au-q', 'dev-q', 1)], isoAt(7));
      expect(
        await s.docs.writeDocs(
          [{ ...auditWrite(`${Q}/audit`, 'au-q', 'dev-q', 1), assumedRev: '1-au-q' }],
          isoAt(8),
        ),
      ).toEqual([{ status: 'append-only' }]);
    });

    it('refuses an account it does not hold, or one erased; the id may be registered anew', async () => {
      await seed();
      const s = store();
      const erase = (id: string) => {
        if (s.accounts.erase === undefined) throw new Error('this store cannot erase accounts');
        return s.accounts.erase(id);
      };
      expect(await codeOf(erase('NoSuchAccount_0123456'))).toBe('NOT_FOUND');
      await erase(P);
      expect(await codeOf(erase(P))).toBe('NOT_FOUND');

      await s.accounts.register(makeAccount(P), makeDevice('dev-p3', P));
      const [written] = await s.docs.writeDocs(
        [{ doc: makeDocInput(S, 'fresh', '1-f'), assumedRev: null }],
        isoAt(9),
      );
      expect(written).toEqual({ status: 'ok', seq: 1 });
      expect((await s.docs.readDocs(S, 0, 100, 1 << 20)).docs.map((d) => d.id)).toEqual(['fresh']);
      expect((await s.devices.listForAccount(P)).map((d) => d.deviceId)).toEqual(['dev-p3']);
    });
  });
};
