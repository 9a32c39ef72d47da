/*
 * Conformance of `SyncStore.shl` (shl-types.ts), declared inside `runStoreConformance`: links found by
 * token hash only, listed to their patient alone, revoked once, passcode attempts counted down to zero
 * and never below, an access counted only on a live link, one-time file tickets.
 */
import { describe, expect, it } from 'vitest';
import type { SyncStore } from './types';
import type { ShlLink } from './shl-types';
import { makeAccount, makeDevice } from './conformance';
import { isStoreError } from './types';

const PATIENT = 'PatientAccount_0123456';
const OTHER = 'OtherAccount_012345678';
const link = (
  n: number,
  extra: Partial<ShlLink> = {},
): Omit<ShlLink, 'accessCount' | 'revokedAt' | 'lastAccessAt'> => ({
  linkId: `LinkId_${String(n).padStart(15, '0')}`,
  tokenHash: String(n).repeat(64).slice(0, 64),
  patientId: PATIENT,
  label: `link ${n}`,
  passcodeHash: 'scrypt$x',
  attemptsLeft: 3,
  emergency: false,
  contents: [{ type: 'allergy', count: 2 }],
  contentType: 'application/fhir+json',
  jwe: 'eyJ.x.y.z.w',
  createdAt: `2026-11-25T10:00:0${n}.000Z`,
  ...extra,
});

export const describeShlConformance = (store: () => SyncStore): void => {
  describe('shl', () => {
    const ready = async () => {
      await store().accounts.register(makeAccount(PATIENT), makeDevice('dev-p', PATIENT));
      await store().accounts.register(makeAccount(OTHER), makeDevice('dev-o', OTHER));
    };

    it('finds a link by its token hash, lists it to its patient alone, refuses a taken id', async () => {
      await ready();
      await store().shl.create(link(1));
      await store().shl.create(link(2, { passcodeHash: undefined as never }));
      expect((await store().shl.byToken(link(1).tokenHash))?.linkId).toBe(link(1).linkId);
      expect(await store().shl.byToken('f'.repeat(64))).toBeNull();
      const listed = await store().shl.list(PATIENT, 10);
      expect(listed.map((l) => [l.linkId, l.passcode])).toEqual([
        [link(2).linkId, false],
        [link(1).linkId, true],
      ]);
      expect(JSON.stringify(listed)).not.toContain('eyJ');
      expect(await store().shl.list(OTHER, 10)).toEqual([]);
      await expect(store().shl.create(link(1))).rejects.toSatisfy((e) => isStoreError(e, 'ALREADY_EXISTS'));
    });

    it('counts passcode attempts down to zero, then opens nothing', async () => {
      await ready();
      await store().shl.create(link(3));
      const id = link(3).linkId;
      const wrong = { at: '2026-11-25T11:00:00.000Z', outcome: 'wrong-passcode' as const, recipient: 'ER' };
      expect(await store().shl.recordAccess(id, wrong)).toEqual({ attemptsLeft: 2, accessCount: 0 });
      expect(await store().shl.recordAccess(id, { ...wrong, outcome: 'opened' })).toEqual({
        attemptsLeft: 2,
        accessCount: 1,
      });
      expect(await store().shl.recordAccess(id, wrong)).toEqual({ attemptsLeft: 1, accessCount: 1 });
      expect(await store().shl.recordAccess(id, wrong)).toEqual({ attemptsLeft: 0, accessCount: 1 });
      expect(await store().shl.recordAccess(id, wrong)).toBeNull();
      expect(await store().shl.recordAccess(id, { ...wrong, outcome: 'opened' })).toBeNull();
      const log = await store().shl.accesses(PATIENT, id, 10);
      expect(log.map((a) => a.outcome)).toEqual([
        'wrong-passcode',
        'wrong-passcode',
        'opened',
        'wrong-passcode',
      ]);
      const since = await store().shl.accessesSince(PATIENT, '2026-11-25T10:59:59.000Z', 10);
      expect(since.map((a) => [a.linkId, a.outcome])).toEqual(log.map((a) => [id, a.outcome]).reverse());
      expect(await store().shl.accessesSince(OTHER, '2026-11-25T10:59:59.000Z', 10)).toEqual([]);
      await expect(store().shl.accesses(OTHER, id, 10)).rejects.toSatisfy((e) =>
        isStoreError(e, 'NOT_FOUND'),
      );
    });

    it('revokes a link of its patient only, once, and a revoked link opens nothing', async () => {
      await ready();
      await store().shl.create(link(4));
      const id = link(4).linkId;
      await expect(store().shl.revoke(OTHER, id, '2026-11-25T12:00:00.000Z')).rejects.toSatisfy((e) =>
        isStoreError(e, 'NOT_FOUND'),
      );
      expect((await store().shl.revoke(PATIENT, id, '2026-11-25T12:00:00.000Z')).revokedAt).toBe(
        '2026-11-25T12:00:00.000Z',
      );
      expect((await store().shl.revoke(PATIENT, id, '2026-11-25T13:00:00.000Z')).revokedAt).toBe(
        '2026-11-25T12:00:00.000Z',
      );
      expect(
        await store().shl.recordAccess(id, {
          at: '2026-11-25T14:00:00.000Z',
          outcome: 'opened',
          recipient: 'x',
        }),
      ).toBeNull();
    });

    it('hands a file ticket out once, and not after it expired', async () => {
      await ready();
      await store().shl.create(link(5));
      await store().shl.putTicket(link(5).linkId, 'a'.repeat(64), 2_000);
      expect(await store().shl.takeTicket('a'.repeat(64), 3_000)).toBeNull();
      await store().shl.putTicket(link(5).linkId, 'b'.repeat(64), 2_000);
      expect((await store().shl.takeTicket('b'.repeat(64), 1_000))?.linkId).toBe(link(5).linkId);
      expect(await store().shl.takeTicket('b'.repeat(64), 1_000)).toBeNull();
    });
  });
};
