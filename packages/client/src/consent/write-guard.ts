/**
 * The keyring's write guard that consent installs: a write to one of the patient's streams waits for its
 * re-keying.
 *
 * Invariants:
 * - Writes wait for re-keying: consent installs the keyring's write guard, so this device seals a write
 *   to one of the patient's streams only under an epoch whose key shuts out every grant covering it that
 *   this device knows ended (the grants in device meta; same candidate sets as `settle`), or revoked by a
 *   revocation kept unsent (kept-revocations.ts): offline, a record written after the revoke is not pushed at the
 *   reconnect under the epoch the grantee holds. Until the revocation is taken and the rotation confirmed
 *   — also when the server withholds the new epoch — `writeKey` answers null and the engine keeps the
 *   records pending (NO_KEY, retried). The highest epoch held per stream (own, and
 *   granted to this account) is persisted in device meta (`stream-epochs`), so a lower epoch reported after a
 *   restart is not taken.
 * - The guard reads local grants only (no network on the write path). Its answer for a stream holds until
 *   the soonest expiry of the stream's active grants (or until the grants change: `invalidateWriteChecks`).
 */
import type { ConsentCore } from './consent-core';
import { CONSENT_STATE } from './stored-state';
import { parseStreamId } from '@hale/protocol';
import { type StoredGrant, REKEY_KICK_MS, STREAM_EPOCHS_KEY } from './consent-types';
import { endedFor, grantEnded } from './grant-lists';

export const installWriteGuard = (c: ConsentCore): void => {
  const { deps } = c;
  /** When a refused write last started a check (wall clock). */
  let lastKick = 0;
  deps.keyring.useWriteGuard({
    now: deps.now,
    // A write waits for re-keying (e.g. a grant expired while connected): check now, at most every few
    // seconds (wall clock); what it mints is reported by the next `rotateExpired`. A kept revocation is
    // sent first: until the server takes it no re-keying can shut its grantee out.
    onRefused: () => {
      if (deps.connection.status() !== 'ready' || Date.now() - lastKick < REKEY_KICK_MS) return;
      lastKick = Date.now();
      void (async () =>
        c.rekey.settle(c.rekey.background, await c.kept.sendKept().catch(() => undefined)))().catch(
        () => undefined,
      );
    },
    async candidates(stream) {
      const parsed = parseStreamId(stream);
      if (!parsed.ok || parsed.value.patientId !== deps.accountId)
        return { sets: [[]], validUntil: Infinity };
      const type = parsed.value.type;
      const now = deps.now();
      const all = await c.copy.localGrants();
      const covering = all.filter((g) => g.grant.scope.some((x) => x.type === type));
      // A revocation kept unsent counts as ended here: the patient revoked, so nothing written since is
      // sealed under a key the grantee holds, though the server has not cut it off yet. A grant a change
      // replaced ends only for the kinds its successor leaves out (`endedFor`), as re-keying judges it.
      const waiting = await c.kept.revokedHere();
      const isEnded = (g: StoredGrant): boolean => grantEnded(g, now) || waiting.has(g.grant.grantId);
      const endedIds = covering
        .filter((g) => endedFor(g, type, all, now) || waiting.has(g.grant.grantId))
        .map((g) => g.grant.grantId);
      const active = covering.filter((g) => !isEnded(g));
      let validUntil = Infinity;
      for (const g of active) validUntil = Math.min(validUntil, Date.parse(g.grant.expiresAt));
      return { sets: endedIds.length === 0 ? [[]] : c.rekey.candidateSets(endedIds, active), validUntil };
    },
    floor: {
      load: async () => (await deps.meta.get(STREAM_EPOCHS_KEY, CONSENT_STATE.streamEpochs)) ?? {},
      save: async (stream, epoch) => {
        await deps.meta.update(STREAM_EPOCHS_KEY, CONSENT_STATE.streamEpochs, (all) =>
          (all?.[stream] ?? 0) >= epoch ? (all ?? {}) : { ...(all ?? {}), [stream]: epoch },
        );
      },
    },
  });
};
