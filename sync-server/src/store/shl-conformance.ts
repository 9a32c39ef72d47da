/*
 * Conformance of `SyncStore.shl` (shl-types.ts), declared inside `runStoreConformance`: links found by
 * token hash only, listed to their patient alone, revoked once, passcode attempts counted down to zero
 * and never below, an access counted only on a live link, every access logged (those that lost a race
 * as refused), one-time file tickets; racing decisions (also through two instances over one backend) each
 * taken once; accesses through one instance told to the other
 * (`onRemoteAccess`, where the store has it); a link's label and counts and a viewer's name kept only as
 * the sealed text given, with the record types in clear.
 */
import { describe, expect, it } from 'vitest';
import type { SyncStore } from './types';
import type { ShlAccess, ShlNewLink } from './shl-types';
import { makeAccount, makeDevice } from './conformance.test-util';
import { isStoreError } from './types';

const PATIENT = 'PatientAccount_0123456';
const OTHER = 'OtherAccount_012345678';
const link = (n: number, extra: Partial<ShlNewLink> = {}): ShlNewLink => ({
  linkId: `LinkId_${String(n).padStart(15, '0')}`,
  tokenHash: String(n).repeat(64).slice(0, 64),
  patientId: PATIENT,
  types: ['allergy', 'medication'],
  sealed: `sealed-details-${n}`,
  passcodeHash: 'scrypt$x',
  attemptsLeft: 3,
  emergency: false,
  contentType: 'application/fhir+json',
  jwe: 'eyJ.x.y.z.w',
  createdAt: `2026-11-25T10:00:0${n}.000Z`,
  ...extra,
});

/** The viewer's name of an access as logged here (sealed; in clear only on rows from before sealing). */
const nameOf = (a: ShlAccess): string => ('sealedRecipient' in a ? a.sealedRecipient : a.recipient);

export const describeShlConformance = (store: () => SyncStore): void => {
  describe('shl', () => {
    const ready = async () => {
      await store().accounts.register(makeAccount(PATIENT), makeDevice('dev-p', PATIENT));
      await store().accounts.register(makeAccount(OTHER), makeDevice('dev-o', OTHER));
    };

    it('finds a link by its token hash, lists it to its patient alone, refuses a taken id', async () => {
      await ready();
      await store().shl.create(link(1));
      const { passcodeHash: _p, ...open } = link(2);
      await store().shl.create(open);
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

    it('keeps the types in clear and the details and viewer names only as the sealed text given', async () => {
      await ready();
      await store().shl.create(link(10));
      const id = link(10).linkId;
      const at = '2026-11-25T17:00:00.000Z';
      await store().shl.recordAccess(id, { at, outcome: 'opened', sealedRecipient: 'sealed-name-1' });
      const [listed] = (await store().shl.list(PATIENT, 10)).filter((l) => l.linkId === id);
      expect(listed).toMatchObject({ types: ['allergy', 'medication'], sealed: 'sealed-details-10' });
      expect(listed).not.toHaveProperty('label');
      expect(listed).not.toHaveProperty('contents');
      const found = await store().shl.byToken(link(10).tokenHash);
      expect(found).toMatchObject({ types: ['allergy', 'medication'], sealed: 'sealed-details-10' });
      expect(found).not.toHaveProperty('label');
      expect(found).not.toHaveProperty('contents');
      expect(await store().shl.accesses(PATIENT, id, 10)).toEqual([
        { at, outcome: 'opened', sealedRecipient: 'sealed-name-1' },
      ]);
      expect(await store().shl.accessesSince(PATIENT, '2026-11-25T16:59:59.000Z', 10)).toEqual([
        { linkId: id, at, outcome: 'opened', sealedRecipient: 'sealed-name-1' },
      ]);
    });

    it('counts passcode attempts down to zero, then opens nothing', async () => {
      await ready();
      await store().shl.create(link(3));
      const id = link(3).linkId;
      const wrong = {
        at: '2026-11-25T11:00:00.000Z',
        outcome: 'wrong-passcode' as const,
        sealedRecipient: 'ER',
      };
      expect(await store().shl.recordAccess(id, wrong)).toEqual({ attemptsLeft: 2, accessCount: 0 });
      expect(await store().shl.recordAccess(id, { ...wrong, outcome: 'opened' })).toEqual({
        attemptsLeft: 2,
        accessCount: 1,
      });
      expect(await store().shl.recordAccess(id, wrong)).toEqual({ attemptsLeft: 1, accessCount: 1 });
      expect(await store().shl.recordAccess(id, wrong)).toEqual({ attemptsLeft: 0, accessCount: 1 });
      expect(await store().shl.recordAccess(id, wrong)).toBeNull();
      expect(await store().shl.recordAccess(id, { ...wrong, outcome: 'opened' })).toBeNull();
      // The locked link's attempts are logged all the same, as refused (nothing taken, nothing opened).
      const log = await store().shl.accesses(PATIENT, id, 10);
      expect(log.map((a) => a.outcome)).toEqual([
        'refused',
        'refused',
        'wrong-passcode',
        'wrong-passcode',
        'opened',
        'wrong-passcode',
      ]);
      expect((await store().shl.byToken(link(3).tokenHash))?.attemptsLeft).toBe(0);
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
          sealedRecipient: 'x',
        }),
      ).toBeNull();
      expect(await store().shl.accesses(PATIENT, id, 10)).toEqual([
        { at: '2026-11-25T14:00:00.000Z', outcome: 'refused', sealedRecipient: 'x' },
      ]);
      expect((await store().shl.byToken(link(4).tokenHash))?.accessCount).toBe(0);
    });

    it('opens a one-time link once, racing viewers included; then it is revoked and lists so', async () => {
      await ready();
      await store().shl.create(link(7, { oneTime: true }));
      await store().shl.create(link(8));
      const opened = (sealedRecipient: string) => ({
        at: '2026-11-25T15:00:00.000Z',
        outcome: 'opened' as const,
        sealedRecipient,
      });
      const results = await Promise.all(
        ['a', 'b', 'c', 'd'].map((r) => store().shl.recordAccess(link(7).linkId, opened(r))),
      );
      expect(results.filter((r) => r !== null)).toEqual([{ attemptsLeft: 3, accessCount: 1 }]);
      expect(await store().shl.recordAccess(link(7).linkId, opened('e'))).toBeNull();
      const listed = await store().shl.list(PATIENT, 10);
      expect(listed.find((l) => l.linkId === link(7).linkId)).toMatchObject({
        oneTime: true,
        accessCount: 1,
        revokedAt: '2026-11-25T15:00:00.000Z',
      });
      expect((await store().shl.byToken(link(7).tokenHash))?.revokedAt).toBe('2026-11-25T15:00:00.000Z');
      // Not one-time: opens again and again.
      expect(await store().shl.recordAccess(link(8).linkId, opened('a'))).toEqual({
        attemptsLeft: 3,
        accessCount: 1,
      });
      expect(await store().shl.recordAccess(link(8).linkId, opened('b'))).toEqual({
        attemptsLeft: 3,
        accessCount: 2,
      });
      const other = listed.find((l) => l.linkId === link(8).linkId);
      expect(other?.oneTime).toBeUndefined();
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

    it('racing viewers take one attempt each and no more than are left; a raced ticket is taken once', async () => {
      await ready();
      await store().shl.create(link(6));
      const id = link(6).linkId;
      const wrong = {
        at: '2026-11-25T11:00:00.000Z',
        outcome: 'wrong-passcode' as const,
        sealedRecipient: 'r',
      };
      const results = await Promise.all(Array.from({ length: 6 }, () => store().shl.recordAccess(id, wrong)));
      expect(
        results
          .filter((r) => r !== null)
          .map((r) => r?.attemptsLeft)
          .sort(),
      ).toEqual([0, 1, 2]);
      expect(results.filter((r) => r === null)).toHaveLength(3);
      // Every attempt is logged, the three that found the link locked too.
      const outcomes = (await store().shl.accesses(PATIENT, id, 10)).map((a) => a.outcome);
      expect(outcomes.toSorted()).toEqual([
        'refused',
        'refused',
        'refused',
        'wrong-passcode',
        'wrong-passcode',
        'wrong-passcode',
      ]);
      expect((await store().shl.byToken(link(6).tokenHash))?.attemptsLeft).toBe(0);

      await store().shl.create(link(7));
      await store().shl.putTicket(link(7).linkId, 'c'.repeat(64), 2_000);
      const takes = await Promise.all(
        Array.from({ length: 4 }, () => store().shl.takeTicket('c'.repeat(64), 1_000)),
      );
      expect(takes.filter((t) => t !== null).map((t) => t?.linkId)).toEqual([link(7).linkId]);
    });

    it('41 wrong passcodes at once: 3 take the attempts, all 41 are logged and told since', async () => {
      await ready();
      await store().shl.create(link(9));
      const id = link(9).linkId;
      const results = await Promise.all(
        Array.from({ length: 41 }, (_, i) =>
          store().shl.recordAccess(id, {
            at: `2026-11-25T16:00:${String(i).padStart(2, '0')}.000Z`,
            outcome: 'wrong-passcode',
            sealedRecipient: `guess ${i}`,
          }),
        ),
      );
      expect(results.filter((r) => r !== null)).toHaveLength(3);
      const log = await store().shl.accesses(PATIENT, id, 100);
      expect(log).toHaveLength(41);
      expect(log.filter((a) => a.outcome === 'wrong-passcode')).toHaveLength(3);
      expect(log.filter((a) => a.outcome === 'refused')).toHaveLength(38);
      expect(new Set(log.map(nameOf)).size).toBe(41);
      const told = await store().shl.accessesSince(PATIENT, '2026-11-25T15:59:59.000Z', 500);
      expect(told.filter((a) => a.linkId === id)).toHaveLength(41);
    });

    it('an opening racing a revocation is either counted before it or refused', async () => {
      await ready();
      await store().shl.create(link(8));
      const id = link(8).linkId;
      const open = { at: '2026-11-25T11:00:00.000Z', outcome: 'opened' as const, sealedRecipient: 'r' };
      const [opened, revoked] = await Promise.all([
        store().shl.recordAccess(id, open),
        store().shl.revoke(PATIENT, id, '2026-11-25T11:00:00.000Z'),
      ]);
      expect(revoked.revokedAt).toBe('2026-11-25T11:00:00.000Z');
      const after = await store().shl.byToken(link(8).tokenHash);
      expect(after?.accessCount).toBe(opened === null ? 0 : 1);
      expect(await store().shl.recordAccess(id, open)).toBeNull();
      // Both logged: the raced opening as what it decided, the late one refused.
      expect((await store().shl.accesses(PATIENT, id, 10)).map((a) => a.outcome)).toEqual([
        'refused',
        opened === null ? 'refused' : 'opened',
      ]);
    });
  });
};

type SharedPair = () => Promise<{ stores: [SyncStore, SyncStore]; cleanup: () => Promise<void> }>;

/** Cases over two instances sharing one backend (declared inside `runStoreConformance`'s shared block). */
export const describeShlSharedConformance = (makeSharedPair: SharedPair): void => {
  it("links: attempts raced through two instances are taken once; each hears the other one's accesses", async () => {
    const { stores, cleanup } = await makeSharedPair();
    try {
      const [a, b] = stores;
      await a.accounts.register(makeAccount(PATIENT), makeDevice('dev-p', PATIENT));
      await a.shl.create(link(1));
      const id = link(1).linkId;
      const heardByB: string[] = [];
      const heardByA: string[] = [];
      const stop = [
        b.shl.onRemoteAccess?.((x) => heardByB.push(`${x.patientId} ${x.linkId}`)),
        a.shl.onRemoteAccess?.((x) => heardByA.push(x.linkId)),
      ];
      const wrong = {
        at: '2026-11-25T11:00:00.000Z',
        outcome: 'wrong-passcode' as const,
        sealedRecipient: 'r',
      };
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).shl.recordAccess(id, wrong)),
      );
      expect(
        results
          .filter((r) => r !== null)
          .map((r) => r?.attemptsLeft)
          .sort(),
      ).toEqual([0, 1, 2]);
      // All eight logged, the five that found the link locked as refused.
      expect(await b.shl.accesses(PATIENT, id, 10)).toHaveLength(8);
      if (b.shl.onRemoteAccess !== undefined) {
        const through = (even: boolean) => results.filter((_r, i) => (i % 2 === 0) === even).length;
        await a.shl.recordAccess(id, { ...wrong, outcome: 'refused' });
        // Each hears exactly what was logged through the other, never its own.
        await waitUntil(() => heardByB.length === through(true) + 1 && heardByA.length === through(false));
        expect(heardByB.every((h) => h === `${PATIENT} ${id}`)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect([heardByB.length, heardByA.length]).toEqual([through(true) + 1, through(false)]);
      }
      for (const s of stop) s?.();
    } finally {
      await cleanup();
    }
  });
};

const waitUntil = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};
