/*
 * Conformance of `SyncStore` (types.ts): consent (grants, acceptances). Declared inside
 * `runStoreConformance` (conformance.ts), on the fresh store each test gets there.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Grant, SyncStore } from './types';
import { bindStore, expectStoreError, isoAt, seedAccountsOf } from './conformance.test-util';

export const describeGrantsConformance = (current: () => SyncStore): void => {
  let store: SyncStore;
  bindStore(current, (fresh) => (store = fresh));
  const seedAccounts = seedAccountsOf(current);

  describe('grants', () => {
    const grant = (grantId: string, granteeId: string, issuedAt: string): Grant => ({
      grantId,
      patientId: 'pat',
      granteeId,
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'lab-result', access: 'write' },
      ],
      start: isoAt(0),
      expiresAt: isoAt(86400),
      issuedAt,
      signed: { body: { grantId }, sig: 'sig' },
    });

    beforeEach(async () => {
      await seedAccounts('pat', 'doc-1', 'doc-2');
    });

    it('round-trips and lists by patient and by grantee in issue order', async () => {
      const g2 = grant('g2', 'doc-1', isoAt(20));
      const g1 = grant('g1', 'doc-1', isoAt(10));
      const g3 = grant('g3', 'doc-2', isoAt(30));
      for (const g of [g2, g1, g3]) await store.grants.put(g);
      expect(await store.grants.get('g1')).toStrictEqual(g1);
      expect(await store.grants.get('g9')).toBeNull();
      expect(await store.grants.listForPatient('pat')).toStrictEqual([g1, g2, g3]);
      expect(await store.grants.listForGrantee('doc-1')).toStrictEqual([g1, g2]);
      expect(await store.grants.listForGrantee('doc-2')).toStrictEqual([g3]);
      expect(await store.grants.listForPatient('doc-1')).toStrictEqual([]);
    });

    it('refuses duplicates and unknown accounts', async () => {
      await store.grants.put(grant('g1', 'doc-1', isoAt(1)));
      await expectStoreError(store.grants.put(grant('g1', 'doc-2', isoAt(1))), 'ALREADY_EXISTS');
      await expectStoreError(store.grants.put(grant('g2', 'doc-unknown', isoAt(1))), 'NOT_FOUND');
    });

    it('revoke records the first revocation', async () => {
      await store.grants.put(grant('g1', 'doc-1', isoAt(1)));
      const revoked = await store.grants.revoke('g1', isoAt(50), { reason: 'ended', sig: 's1' });
      expect(revoked.revokedAt).toBe(isoAt(50));
      expect(revoked.revocation).toStrictEqual({ reason: 'ended', sig: 's1' });
      const again = await store.grants.revoke('g1', isoAt(60), { reason: 'again' });
      expect(again).toStrictEqual(revoked);
      expect(await store.grants.get('g1')).toStrictEqual(revoked);
      await expectStoreError(store.grants.revoke('g9', isoAt(1), {}), 'NOT_FOUND');
    });

    describe('supersede', () => {
      /** `grant(grantId, granteeId)` with another scope, issued at 20: what a change of g1 would be. */
      const changed = (grantId: string, granteeId = 'doc-1', patientId = 'pat'): Grant => ({
        ...grant(grantId, granteeId, isoAt(20)),
        patientId,
        scope: [{ type: 'allergy', access: 'write' }],
        expiresAt: isoAt(172800),
      });

      it('stores the new grant and ends the old one at `now`, in one change, as a revocation ends it', async () => {
        const g1 = grant('g1', 'doc-1', isoAt(1));
        await store.grants.put(g1, isoAt(1));
        const before = await store.grants.changesSince(0);
        const g2 = changed('g2');
        expect(await store.grants.supersede(g2, 'g1', isoAt(50))).toBe('stored');
        const ended = { ...g1, revokedAt: isoAt(50), supersededBy: 'g2' };
        expect(await store.grants.get('g1')).toStrictEqual(ended);
        expect(await store.grants.get('g2')).toStrictEqual(g2);
        // Every reading of unended grants leaves the old one out from `now`, as a revoked one.
        expect(await store.grants.listUnended({ patientId: 'pat' }, isoAt(60))).toStrictEqual([g2]);
        expect(await store.grants.listUnended({ granteeId: 'doc-1' }, isoAt(60))).toStrictEqual([g2]);
        expect(await store.grants.listUnendedFrom('doc-1', ['pat'], isoAt(60))).toStrictEqual([g2]);
        expect(await store.grants.listUnendedByPatient('doc-1', isoAt(60), { limit: 10 })).toStrictEqual([
          g2,
        ]);
        expect(
          await store.grants.listPage({ granteeId: 'doc-1' }, { limit: 10, unendedAt: isoAt(60) }),
        ).toStrictEqual([g2]);
        expect(await store.grants.listEnded({ patientId: 'pat' }, isoAt(60), 10)).toStrictEqual([ended]);
        expect(await store.grants.countUnended({ patientId: 'pat', granteeId: 'doc-1' }, isoAt(60))).toBe(1);
        expect(await store.grants.countUnendedNotAccepted('doc-1', isoAt(60))).toBe(1);
        expect(
          [...(await store.grants.endedScopes({ patientId: 'pat', granteeId: 'doc-1' }, isoAt(60), 10))]
            .map((e) => `${e.type} ${e.revoked}`)
            .sort(),
        ).toStrictEqual(['allergy true', 'lab-result true']);
        // The new grant counts as stored at `now` (the pair's daily rate).
        expect(await store.grants.countStoredSince({ patientId: 'pat', granteeId: 'doc-1' }, isoAt(10))).toBe(
          1,
        );
        const after = await store.grants.changesSince(before.position);
        expect(after.granteeIds).toStrictEqual(['doc-1']);
        // A later revocation of the old grant changes nothing: its first end is kept.
        expect(await store.grants.revoke('g1', isoAt(70), { sig: 'r1' })).toStrictEqual(ended);
        expect(await store.grants.get('g1')).toStrictEqual(ended);
        expect((await store.grants.changesSince(after.position)).granteeIds).toStrictEqual([]);
        // The new grant is unended and can be replaced in its turn, also before it starts.
        const g3 = { ...changed('g3'), start: isoAt(100) };
        expect(await store.grants.supersede(g3, 'g2', isoAt(80))).toBe('stored');
        expect((await store.grants.get('g2'))?.supersededBy).toBe('g3');
        expect(await store.grants.listUnended({ patientId: 'pat' }, isoAt(90))).toStrictEqual([g3]);
        const g4 = changed('g4');
        expect(await store.grants.supersede(g4, 'g3', isoAt(90))).toBe('stored');
        // A grant put with its end (a copy, e.g. a migration) keeps it.
        await store.grants.put({ ...changed('g5'), revokedAt: isoAt(5), supersededBy: 'g4' });
        expect(await store.grants.get('g5')).toStrictEqual({
          ...changed('g5'),
          revokedAt: isoAt(5),
          supersededBy: 'g4',
        });
      });

      it("refuses a missing, another pair's, ended or replaced grant, writing nothing", async () => {
        await seedAccounts('pat-2');
        const g1 = grant('g1', 'doc-1', isoAt(1));
        const g2 = grant('g2', 'doc-2', isoAt(2));
        const revoked = grant('gr', 'doc-1', isoAt(3));
        const expired = { ...grant('ge', 'doc-1', isoAt(4)), expiresAt: isoAt(50) };
        const other = { ...grant('go', 'doc-1', isoAt(5)), patientId: 'pat-2' };
        for (const g of [g1, g2, revoked, expired, other]) await store.grants.put(g, isoAt(6));
        await store.grants.revoke('gr', isoAt(7), { sig: 'r' });
        expect(await store.grants.supersede(changed('n0'), 'g1', isoAt(8))).toBe('stored');
        const stored = await store.grants.listForPatient('pat');
        const { position } = await store.grants.changesSince(0);
        const refused: Array<[string, Grant, string]> = [
          ['no such grant', changed('n1'), 'g9'],
          ['another grantee', changed('n2'), 'g2'],
          ["another patient's grant", changed('n3'), 'go'],
          ['another patient', changed('n4', 'doc-1', 'pat-2'), 'n0'],
          ['revoked', changed('n5'), 'gr'],
          // Ended at its expiresAt, as countUnended counts.
          ['expired', changed('n6'), 'ge'],
          ['replaced already', changed('n7'), 'g1'],
        ];
        for (const [why, g, supersedes] of refused) {
          expect(await store.grants.supersede(g, supersedes, isoAt(50)), why).toBe('not-supersedable');
          expect(await store.grants.get(g.grantId), why).toBeNull();
        }
        expect(await store.grants.listForPatient('pat')).toStrictEqual(stored);
        expect(await store.grants.changesSince(position)).toStrictEqual({ position, granteeIds: [] });
        // A stored id is refused before anything else, and the grant it names is not ended.
        await expectStoreError(store.grants.supersede(changed('g2'), 'n0', isoAt(50)), 'ALREADY_EXISTS');
        expect((await store.grants.get('n0'))?.revokedAt).toBeUndefined();
        await expectStoreError(store.grants.supersede(changed('n8'), 'n8', isoAt(50)), 'INVALID');
        await expectStoreError(store.grants.supersede(changed('n8'), '', isoAt(50)), 'INVALID');
        expect(await store.grants.listForPatient('pat')).toStrictEqual(stored);
      });

      it('of two replacements of one grant at once, exactly one is stored', async () => {
        await store.grants.put(grant('g1', 'doc-1', isoAt(1)), isoAt(1));
        const outcomes = await Promise.all([
          store.grants.supersede(changed('a'), 'g1', isoAt(50)),
          store.grants.supersede(changed('b'), 'g1', isoAt(50)),
        ]);
        expect([...outcomes].sort()).toStrictEqual(['not-supersedable', 'stored']);
        const winner = outcomes[0] === 'stored' ? 'a' : 'b';
        const loser = winner === 'a' ? 'b' : 'a';
        expect((await store.grants.get('g1'))?.supersededBy).toBe(winner);
        expect(await store.grants.get(loser)).toBeNull();
        expect(await store.grants.listUnended({ patientId: 'pat' }, isoAt(60))).toStrictEqual([
          changed(winner),
        ]);
      });
    });

    it('counts unended grants by patient, by grantee and by pair', async () => {
      await seedAccounts('pat-2');
      const at = (g: Grant, start: number, expires: number): Grant => ({
        ...g,
        start: isoAt(start),
        expiresAt: isoAt(expires),
      });
      await store.grants.put(at(grant('g1', 'doc-1', isoAt(1)), 0, 100));
      await store.grants.put(at(grant('g2', 'doc-1', isoAt(2)), 0, 200));
      // Not started yet at 50: still counts.
      await store.grants.put(at(grant('g3', 'doc-2', isoAt(3)), 80, 300));
      await store.grants.put({ ...at(grant('g4', 'doc-1', isoAt(4)), 0, 300), patientId: 'pat-2' });
      await store.grants.put(at(grant('g5', 'doc-1', isoAt(5)), 0, 300));
      await store.grants.revoke('g5', isoAt(6), {});
      const count = (of: { patientId?: string; granteeId?: string }, seconds: number) =>
        store.grants.countUnended(of, isoAt(seconds));
      expect(await count({ patientId: 'pat' }, 50)).toBe(3);
      expect(await count({ granteeId: 'doc-1' }, 50)).toBe(3);
      expect(await count({ patientId: 'pat', granteeId: 'doc-1' }, 50)).toBe(2);
      expect(await count({ patientId: 'pat-2', granteeId: 'doc-2' }, 50)).toBe(0);
      // Expiry is exclusive: a grant is ended at its expiresAt.
      expect(await count({ patientId: 'pat', granteeId: 'doc-1' }, 100)).toBe(1);
      expect(await count({ patientId: 'pat' }, 300)).toBe(0);
      await expectStoreError(count({}, 50), 'INVALID');
    });

    describe('unended and ended', () => {
      const at = (g: Grant, start: number, expires: number): Grant => ({
        ...g,
        start: isoAt(start),
        expiresAt: isoAt(expires),
      });
      // At 50: g1 ended at 40, g2 unended, g3 not started (unended), g4 revoked, g5 another patient's.
      let g1: Grant, g2: Grant, g3: Grant, g4: Grant, g5: Grant;
      beforeEach(async () => {
        await seedAccounts('pat-2');
        g1 = at(grant('g1', 'doc-1', isoAt(1)), 0, 40);
        g2 = at(grant('g2', 'doc-1', isoAt(2)), 0, 200);
        g3 = at(grant('g3', 'doc-2', isoAt(3)), 80, 300);
        g4 = at(grant('g4', 'doc-1', isoAt(4)), 0, 300);
        g5 = { ...at(grant('g5', 'doc-1', isoAt(5)), 0, 300), patientId: 'pat-2' };
        for (const g of [g5, g4, g3, g2, g1]) await store.grants.put(g);
        g4 = await store.grants.revoke('g4', isoAt(6), { sig: 'r4' });
      });

      it('lists the unended grants of a patient or a grantee, oldest issued first', async () => {
        expect(await store.grants.listUnended({ patientId: 'pat' }, isoAt(50))).toStrictEqual([g2, g3]);
        expect(await store.grants.listUnended({ granteeId: 'doc-1' }, isoAt(50))).toStrictEqual([g2, g5]);
        expect(await store.grants.listUnended({ granteeId: 'doc-2' }, isoAt(50))).toStrictEqual([g3]);
        // Expiry is exclusive, as countUnended counts.
        expect(await store.grants.listUnended({ granteeId: 'doc-1' }, isoAt(200))).toStrictEqual([g5]);
        expect(await store.grants.listUnended({ patientId: 'doc-1' }, isoAt(50))).toStrictEqual([]);
        await expectStoreError(store.grants.listUnended({}, isoAt(50)), 'INVALID');
        await expectStoreError(
          store.grants.listUnended({ patientId: 'pat', granteeId: 'doc-1' }, isoAt(50)),
          'INVALID',
        );
      });

      it("pages a grantee's unended grants by patient as stream ids order them, or reads named patients'", async () => {
        // Stream ids order `pat-2/…` before `pat/…` ('-' < '/') and `patz/…` after, unlike the ids alone.
        await seedAccounts('patz');
        const g6 = at(grant('g6', 'doc-1', isoAt(7)), 0, 300);
        const g7 = { ...at(grant('g7', 'doc-1', isoAt(1)), 0, 300), patientId: 'patz' };
        const g8 = { ...at(grant('g8', 'doc-1', isoAt(1)), 0, 300), patientId: 'patz' };
        for (const g of [g8, g6, g7]) await store.grants.put(g);
        const page = (after: string | undefined, limit = 10, seconds = 50) =>
          store.grants.listUnendedByPatient('doc-1', isoAt(seconds), {
            limit,
            ...(after === undefined ? {} : { after }),
          });
        expect(await page(undefined)).toStrictEqual([g5, g2, g6, g7, g8]);
        expect(await page(undefined, 2)).toStrictEqual([g5, g2]);
        expect(await page(undefined, 0)).toStrictEqual([]);
        // Strictly after: a stream id of a patient leaves that patient out, a prefix of one does not.
        expect(await page('pat-2/')).toStrictEqual([g2, g6, g7, g8]);
        expect(await page('pat/allergy')).toStrictEqual([g7, g8]);
        expect(await page('pat')).toStrictEqual([g5, g2, g6, g7, g8]);
        expect(await page('patz/', 10)).toStrictEqual([]);
        // Ended at its expiresAt, as listUnended.
        expect(await page(undefined, 10, 200)).toStrictEqual([g5, g6, g7, g8]);
        expect(await store.grants.listUnendedByPatient('doc-2', isoAt(50), { limit: 10 })).toStrictEqual([
          g3,
        ]);

        const from = (granteeId: string, patientIds: string[]) =>
          store.grants.listUnendedFrom(granteeId, patientIds, isoAt(50));
        expect(await from('doc-1', ['patz', 'pat', 'nobody', 'pat'])).toStrictEqual([g2, g6, g7, g8]);
        expect(await from('doc-1', ['pat-2'])).toStrictEqual([g5]);
        // Not started yet is unended; another grantee's grants are not read.
        expect(await from('doc-2', ['pat', 'pat-2'])).toStrictEqual([g3]);
        expect(await from('doc-1', [])).toStrictEqual([]);

        await expectStoreError(page(undefined, -1), 'INVALID');
        await expectStoreError(page(undefined, 1.5), 'INVALID');
        await expectStoreError(from('doc-1', ['']), 'INVALID');
      });

      it('lists the ended grants of a patient or a grantee, newest issued first, at most `limit`', async () => {
        expect(await store.grants.listEnded({ patientId: 'pat' }, isoAt(50), 10)).toStrictEqual([g4, g1]);
        expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(50), 10)).toStrictEqual([g4, g1]);
        expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(50), 1)).toStrictEqual([g4]);
        expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(50), 0)).toStrictEqual([]);
        expect(await store.grants.listEnded({ granteeId: 'doc-2' }, isoAt(50), 10)).toStrictEqual([]);
        // Ended at its expiresAt.
        expect(await store.grants.listEnded({ granteeId: 'doc-1' }, isoAt(200), 10)).toStrictEqual([
          g4,
          g2,
          g1,
        ]);
        await expectStoreError(store.grants.listEnded({}, isoAt(50), 10), 'INVALID');
        await expectStoreError(store.grants.listEnded({ patientId: 'pat' }, isoAt(50), -1), 'INVALID');
        await expectStoreError(store.grants.listEnded({ patientId: 'pat' }, isoAt(50), 1.5), 'INVALID');
      });

      it("answers what a pair's ended grants covered, revoked or expired", async () => {
        const scopes = async (patientId: string, granteeId: string, seconds: number, limit = 10) =>
          [...(await store.grants.endedScopes({ patientId, granteeId }, isoAt(seconds), limit))].sort(
            (a, b) => `${a.type}${a.revoked}`.localeCompare(`${b.type}${b.revoked}`),
          );
        // g1 expired, g4 revoked; both name allergy and lab-result.
        expect(await scopes('pat', 'doc-1', 50)).toStrictEqual([
          { type: 'allergy', revoked: false },
          { type: 'allergy', revoked: true },
          { type: 'lab-result', revoked: false },
          { type: 'lab-result', revoked: true },
        ]);
        // Before g1 expired only the revocation counts.
        expect(await scopes('pat', 'doc-1', 20)).toStrictEqual([
          { type: 'allergy', revoked: true },
          { type: 'lab-result', revoked: true },
        ]);
        expect(await scopes('pat', 'doc-2', 50)).toStrictEqual([]);
        expect(await scopes('pat-2', 'doc-1', 50)).toStrictEqual([]);
        await store.grants.put({
          ...at(grant('g6', 'doc-2', isoAt(7)), 0, 10),
          scope: [{ type: 'medication', access: 'read' }],
        });
        expect(await scopes('pat', 'doc-2', 50)).toStrictEqual([{ type: 'medication', revoked: false }]);
        // Only the `limit` newest issued ended grants count: g4 (revoked, issued 4) before g1 (issued 1).
        expect(await scopes('pat', 'doc-1', 50, 1)).toStrictEqual([
          { type: 'allergy', revoked: true },
          { type: 'lab-result', revoked: true },
        ]);
        expect(await scopes('pat', 'doc-1', 50, 0)).toStrictEqual([]);
        await expectStoreError(
          store.grants.endedScopes({ patientId: 'pat', granteeId: 'doc-1' }, isoAt(50), -1),
          'INVALID',
        );
      });
    });

    it('counts the grants of a pair put after a receive time', async () => {
      await seedAccounts('pat-2');
      await store.grants.put(grant('g1', 'doc-1', isoAt(1)), isoAt(10));
      await store.grants.put(grant('g2', 'doc-1', isoAt(2)), isoAt(20));
      await store.grants.put(grant('g3', 'doc-2', isoAt(3)), isoAt(20));
      await store.grants.put({ ...grant('g4', 'doc-1', isoAt(4)), patientId: 'pat-2' }, isoAt(20));
      // Without a receive time no window counts it.
      await store.grants.put(grant('g5', 'doc-1', isoAt(5)));
      // Revoked (ended) grants still count: the window is about what was stored.
      await store.grants.revoke('g2', isoAt(30), {});
      const count = (granteeId: string, seconds: number) =>
        store.grants.countStoredSince({ patientId: 'pat', granteeId }, isoAt(seconds));
      expect(await count('doc-1', 0)).toBe(2);
      expect(await count('doc-1', 10)).toBe(1);
      expect(await count('doc-1', 20)).toBe(0);
      expect(await count('doc-2', 0)).toBe(1);
      expect(await store.grants.countStoredSince({ patientId: 'pat-2', granteeId: 'doc-1' }, isoAt(0))).toBe(
        1,
      );
    });

    it('tells which grantees had grants put or revoked since a position', async () => {
      const start = await store.grants.changesSince(0);
      expect(start.granteeIds).toStrictEqual([]);
      await store.grants.put(grant('g1', 'doc-1', isoAt(1)), isoAt(1));
      const a = await store.grants.changesSince(start.position);
      expect(a.granteeIds).toStrictEqual(['doc-1']);
      expect(a.position).toBeGreaterThan(start.position);
      // Nothing changed: same position, nothing listed.
      expect(await store.grants.changesSince(a.position)).toStrictEqual({
        position: a.position,
        granteeIds: [],
      });
      await store.grants.put(grant('g2', 'doc-2', isoAt(2)), isoAt(2));
      await store.grants.revoke('g1', isoAt(3), {});
      const b = await store.grants.changesSince(a.position);
      expect(b.position).toBeGreaterThan(a.position);
      expect([...b.granteeIds].sort()).toStrictEqual(['doc-1', 'doc-2']);
      // Only the first revocation is a change.
      await store.grants.revoke('g1', isoAt(4), {});
      expect(await store.grants.changesSince(b.position)).toStrictEqual({
        position: b.position,
        granteeIds: [],
      });
      // A refused put is none either.
      await expectStoreError(store.grants.put(grant('g2', 'doc-1', isoAt(2)), isoAt(5)), 'ALREADY_EXISTS');
      expect((await store.grants.changesSince(b.position)).granteeIds).toStrictEqual([]);
      expect([...(await store.grants.changesSince(0)).granteeIds].sort()).toStrictEqual(['doc-1', 'doc-2']);
      await expectStoreError(store.grants.changesSince(-1), 'INVALID');
    });
  });

  describe('acceptances', () => {
    const accept = (granteeId: string, patientId: string, seconds: number, max = 10) =>
      store.acceptances.put({ granteeId, patientId, acceptedAt: isoAt(seconds) }, max);
    const grant = (grantId: string, patientId: string, granteeId: string, expires: number): Grant => ({
      grantId,
      patientId,
      granteeId,
      scope: [{ type: 'allergy', access: 'read' }],
      start: isoAt(0),
      expiresAt: isoAt(expires),
      issuedAt: isoAt(1),
      signed: { body: { grantId }, sig: 'sig' },
    });

    beforeEach(async () => {
      await seedAccounts('doc', 'doc-2', 'pat-a', 'pat-b', 'pat-c');
    });

    it('adds an acceptance once, keeps the first time, removes it, and answers per grantee', async () => {
      expect(await accept('doc', 'pat-b', 10)).toBe('added');
      expect(await accept('doc', 'pat-b', 20)).toBe('kept');
      expect(await accept('doc', 'pat-a', 30)).toBe('added');
      expect(await store.acceptances.has('doc', 'pat-b')).toBe(true);
      expect(await store.acceptances.has('doc-2', 'pat-b')).toBe(false);
      expect(await store.acceptances.has('pat-b', 'doc')).toBe(false);
      expect(await store.acceptances.count('doc')).toBe(2);
      expect(await store.acceptances.count('doc-2')).toBe(0);
      expect(await store.acceptances.listPage('doc', { limit: 10 })).toStrictEqual([
        { granteeId: 'doc', patientId: 'pat-a', acceptedAt: isoAt(30) },
        { granteeId: 'doc', patientId: 'pat-b', acceptedAt: isoAt(10) },
      ]);
      expect(await store.acceptances.delete('doc', 'pat-b')).toBe(true);
      expect(await store.acceptances.delete('doc', 'pat-b')).toBe(false);
      expect(await store.acceptances.has('doc', 'pat-b')).toBe(false);
      // Accepted again: a new acceptance, at the new time.
      expect(await accept('doc', 'pat-b', 40)).toBe('added');
      expect((await store.acceptances.listPage('doc', { after: 'pat-a', limit: 10 }))[0]?.acceptedAt).toBe(
        isoAt(40),
      );
    });

    it('stores nothing past `max`, for unknown accounts or for one account alone', async () => {
      expect(await accept('doc', 'pat-a', 1, 2)).toBe('added');
      expect(await accept('doc', 'pat-b', 2, 2)).toBe('added');
      expect(await accept('doc', 'pat-c', 3, 2)).toBe('full');
      // At the cap an acceptance already there is still answered as kept.
      expect(await accept('doc', 'pat-a', 4, 2)).toBe('kept');
      expect(await store.acceptances.has('doc', 'pat-c')).toBe(false);
      // The cap is per grantee.
      expect(await accept('doc-2', 'pat-c', 5, 2)).toBe('added');
      await expectStoreError(accept('doc', 'nobody', 6), 'NOT_FOUND');
      await expectStoreError(accept('nobody', 'pat-a', 6), 'NOT_FOUND');
      await expectStoreError(accept('doc', 'doc', 6), 'INVALID');
      await expectStoreError(accept('doc', 'pat-c', 6, -1), 'INVALID');
      await expectStoreError(accept('doc', 'pat-c', 6, 1.5), 'INVALID');
      expect(await store.acceptances.count('doc')).toBe(2);
      expect(await store.acceptances.has('doc', 'nobody')).toBe(false);
    });

    it('of concurrent acceptances at the cap exactly one is stored', async () => {
      expect(await accept('doc', 'pat-a', 1, 2)).toBe('added');
      const outcomes = await Promise.all([accept('doc', 'pat-b', 2, 2), accept('doc', 'pat-c', 3, 2)]);
      expect([...outcomes].sort()).toStrictEqual(['added', 'full']);
      expect(await store.acceptances.count('doc')).toBe(2);
    });

    it('pages by patient id, strictly after the one given, at most `limit`', async () => {
      for (const [i, id] of ['pat-c', 'pat-a', 'pat-b'].entries()) await accept('doc', id, i);
      const ids = async (page: { after?: string; limit: number }) =>
        (await store.acceptances.listPage('doc', page)).map((a) => a.patientId);
      expect(await ids({ limit: 2 })).toStrictEqual(['pat-a', 'pat-b']);
      expect(await ids({ after: 'pat-b', limit: 2 })).toStrictEqual(['pat-c']);
      expect(await ids({ after: 'pat-c', limit: 2 })).toStrictEqual([]);
      // A position that is no stored id still pages from where it falls.
      expect(await ids({ after: 'pat-a0', limit: 5 })).toStrictEqual(['pat-b', 'pat-c']);
      expect(await ids({ limit: 0 })).toStrictEqual([]);
      expect(await store.acceptances.listPage('doc-2', { limit: 5 })).toStrictEqual([]);
      await expectStoreError(store.acceptances.listPage('doc', { limit: -1 }), 'INVALID');
    });

    it('counts the unended grants a grantee received from patients it did not accept', async () => {
      await store.grants.put(grant('g1', 'pat-a', 'doc', 100));
      await store.grants.put(grant('g2', 'pat-a', 'doc', 300));
      await store.grants.put(grant('g3', 'pat-b', 'doc', 300));
      await store.grants.put(grant('g4', 'pat-c', 'doc', 300));
      await store.grants.revoke('g4', isoAt(5), {});
      await store.grants.put(grant('g5', 'pat-c', 'doc-2', 300));
      const strangers = (granteeId: string, seconds: number) =>
        store.grants.countUnendedNotAccepted(granteeId, isoAt(seconds));
      // Nobody accepted: the same count as countUnended.
      expect(await strangers('doc', 50)).toBe(3);
      expect(await store.grants.countUnended({ granteeId: 'doc' }, isoAt(50))).toBe(3);
      await accept('doc', 'pat-a', 1);
      expect(await strangers('doc', 50)).toBe(1);
      // Expiry is exclusive, as countUnended counts.
      await store.acceptances.delete('doc', 'pat-a');
      expect(await strangers('doc', 100)).toBe(2);
      // Another grantee's acceptance of the patient counts for that grantee only.
      await accept('doc-2', 'pat-b', 1);
      expect(await strangers('doc', 50)).toBe(3);
      expect(await strangers('doc-2', 50)).toBe(1);
      await accept('doc-2', 'pat-c', 1);
      expect(await strangers('doc-2', 50)).toBe(0);
      // The pair and patient counts are unchanged by acceptances.
      expect(await store.grants.countUnended({ patientId: 'pat-c' }, isoAt(50))).toBe(1);
      expect(await store.grants.countUnended({ granteeId: 'doc-2' }, isoAt(50))).toBe(1);
    });
  });
};
