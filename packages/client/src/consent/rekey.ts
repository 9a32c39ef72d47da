/**
 * Re-keying: the check that rotates every stream whose current epoch does not shut out its ended grants,
 * confirms claims, and wraps each epoch for the holders that lack it (`settle`).
 *
 * Invariants:
 * - Decided from state every device of the patient can check, never from a local "done" flag.
 * - Settled: the current epoch's key was derived for ended grants that include every grant this device
 *   knows ended (revoked as the server took it, or expired) covering the stream (keyring `matchRotation`).
 * - An epoch shutting out more grants than this device knows ended (clock ahead, told first) settles too.
 * - A grant a change replaced ends only for the types its successor leaves out (`endedFor`).
 * - `settle` runs after each revocation, on every connect (`rotateExpired`), at the soonest expiry of the
 *   unended grants, and after each grant-list read (every `grantRefreshMs`) that finds an unrotated end.
 * - A settled stream is never rotated again; a rotation cut short is finished by the next check on any of
 *   the patient's devices; a random epoch from before this scheme is rotated once more.
 * - Keys are read before grants: a device never rotates with an older view of the grants than the epoch
 *   it replaces. `revoke` reads both after the server's answer (`readAfterKeys`) for its first round.
 * - Two devices rotating at once: one claim per epoch wins; the loser adopts the winner's key
 *   (`claimEpoch`) and checks again with fresh grants.
 * - Holders are wrapped only after the claim is confirmed, with the key the server kept; the wrap owed is
 *   recorded before the claim, so a device that stops in between wraps at its next check.
 * - A settled check also asks `listKeyHolders` (no key material) and wraps every epoch a current holder
 *   of an unended grant lacks.
 * - Each envelope whose creator is no active device of this account is signed anew by this device (same key): no device takes a revoked device's signature (keyring.ts).
 */
import type { ConsentCore } from './consent-core';
import { CONSENT_STATE } from './stored-state';
import { type GrantRecord, parseStreamId, type KeyHoldersFrame } from '@hale/protocol';
import type { StreamType } from '@hale/model';
import { SyncError } from '../sync/connection';
import {
  type StoredGrant,
  WRAPS_OWED_KEY,
  MAX_EXTRA_ENDED,
  type ReadAfterKeys,
  type Rotation,
  MAX_SETTLE_ROUNDS,
} from './consent-types';
import { endedFor, grantEnded } from './grant-lists';
import type { Rekey } from './consent-parts';

export const createRekey = (c: ConsentCore): Rekey => {
  const { deps } = c;

  const wrapsOwed = async () => (await deps.meta.get(WRAPS_OWED_KEY, CONSENT_STATE.wrapsOwed)) ?? {};
  // Through `update`: a stored value that fails its schema is refused, not replaced by one entry.
  const setWrapOwed = (stream: string, owed: { epoch: number; minted: boolean } | null) =>
    deps.meta.update(WRAPS_OWED_KEY, CONSENT_STATE.wrapsOwed, (all) => {
      const next = { ...all };
      if (owed) next[stream] = owed;
      else delete next[stream];
      return next;
    });

  /**
   * The accounts of `grants` other than those `excluded` names, each once (an account may hold several
   * grants covering one stream): the recipients of a stream's key, one envelope each.
   */
  const holderAccounts = (grants: readonly StoredGrant[], excluded: readonly string[] | null): string[] => [
    ...new Set(grants.filter((g) => !excluded?.includes(g.grant.grantId)).map((g) => g.grant.granteeId)),
  ];

  /**
   * Sets of ended grant ids that settle a stream if its current epoch shuts them out: those this device
   * knows ended, plus any of the still-active ones (soonest expiry first, at most MAX_EXTRA_ENDED) that
   * another device of the patient may already have seen end — its clock ahead of this one, or told of a
   * revocation this device was not. Shutting out more grants is never less safe. Exact set first.
   */
  const candidateSets = (ended: string[], active: StoredGrant[]): string[][] => {
    const extra = [...active]
      .sort((a, b) => Date.parse(a.grant.expiresAt) - Date.parse(b.grant.expiresAt))
      .slice(0, MAX_EXTRA_ENDED)
      .map((g) => g.grant.grantId);
    const out: string[][] = [];
    for (let mask = 0; mask < 1 << extra.length; mask++) {
      out.push([...ended, ...extra.filter((_, i) => (mask & (1 << i)) !== 0)]);
    }
    return out;
  };

  /** Rounds of `settleRound` begun on this device (see `settle`). */
  let roundsBegun = 0;
  /**
   * The keys refreshed, then the server's grant list read, in the order a round reads them (see the
   * header), so the next round can take them (`settle`): `records` the list (null when it could not be
   * read); `round` the rounds begun before the keys were read, or null when they could not be refreshed.
   */
  const readAfterKeys = async (): Promise<ReadAfterKeys> => {
    const round = roundsBegun;
    if (deps.connection.status() !== 'ready') return { records: null, round: null };
    const keysRead = await deps.keyring.refresh().then(
      () => true,
      () => false,
    );
    // Not connected any more: a request would wait for the reconnect, and `revoke` with it.
    if (deps.connection.status() !== 'ready') return { records: null, round: null };
    try {
      return { records: await c.copy.serverGrants(), round: keysRead ? round : null };
    } catch {
      return { records: null, round: null };
    }
  };

  /**
   * One check of every stream a grant covers (and every wrap owed): keys first, then the server's
   * grants (see the header); `read`, when given, is that list, read after the keys were refreshed.
   * Claims the next epoch of each unsettled stream and wraps confirmed epochs for their holders. `again`
   * when a claim was made: the next round confirms it with fresh state.
   */
  const settleRound = async (out: Rotation[], read?: GrantRecord[]): Promise<{ again: boolean }> => {
    roundsBegun++;
    // Locked: the session gives its socket up, and a request sent now would wait for a connection that
    // never comes (a `revoke` whose answer came after the lock went unanswered until the session closed).
    deps.assertUnlocked?.();
    if (deps.connection.status() !== 'ready') {
      throw new SyncError('NETWORK', 'not connected: re-keying is retried on the next connection', true);
    }
    let all: StoredGrant[];
    if (read === undefined) {
      await deps.keyring.refresh();
      all = await c.copy.currentGrants();
    } else {
      all = await c.copy.merge(await c.copy.localGrants(), read);
    }
    const now = deps.now();
    const ended = (g: StoredGrant): boolean => grantEnded(g, now);
    const owed = await wrapsOwed();
    // Every granted stream, not only those of ended grants: a grant's keys lost on the way (the connection
    // dropped after the server took the grant, the device lost) are wrapped by `wrapMissing` below. A
    // stream no grant it covers ended is settled at once (nothing to shut out): no claim, no key read.
    const types = new Set<StreamType>();
    for (const g of all) for (const s of g.grant.scope) types.add(s.type);
    for (const stream of Object.keys(owed)) {
      const parsed = parseStreamId(stream);
      if (parsed.ok && parsed.value.patientId === deps.accountId) types.add(parsed.value.type);
    }
    let again = false;
    const settled = new Set<string>();
    const holdersOf = new Map<string, StoredGrant[]>();
    for (const type of types) {
      const stream = c.streamOf(type);
      const covering = all.filter((g) => g.grant.scope.some((x) => x.type === type));
      // A grant a change replaced hands a type its successor names on (`endedFor`): in neither set.
      const endedIds = covering.filter((g) => endedFor(g, type, all, now)).map((g) => g.grant.grantId);
      const active = covering.filter((g) => !ended(g));
      const { epoch, matched } = await deps.keyring.matchRotation(stream, candidateSets(endedIds, active));
      const wrap = owed[stream];
      if (wrap !== undefined) {
        // A claim that reached the server (its epoch exists now) is wrapped for the remaining holders,
        // whoever won it: they may hold every epoch (a grant wraps the whole history), and the key this
        // device holds for it is the one the server kept. A claim that never landed needs no wrap, nor
        // does one whose epoch the server serves no key for (withheld): a later claim supersedes it.
        if (wrap.epoch <= epoch && (await deps.keyring.keyFor(stream, wrap.epoch)) !== null) {
          // One envelope per holder account: an account may hold several grants covering the stream, and
          // the server refuses a publish naming one (stream, epoch, recipient) twice, whole.
          const holders = [];
          for (const accountId of holderAccounts(active, matched)) {
            const wrapping = await c.pins.holderWrappingKey(accountId);
            if (wrapping) holders.push({ accountId, wrappingPublicKey: wrapping });
          }
          await deps.keyring.wrapEpoch(stream, wrap.epoch, holders);
          if (wrap.minted) {
            deps.onEvent?.({
              action: 'key-rotation',
              detail: { stream, epoch: wrap.epoch, holders: holders.length },
            });
          }
        }
        await setWrapOwed(stream, null);
      }
      if (matched !== null) {
        settled.add(type);
        holdersOf.set(
          stream,
          active.filter((g) => !matched.includes(g.grant.grantId)),
        );
        continue;
      }
      // Recorded before the claim, so a device that stops after the server took it still wraps.
      await setWrapOwed(stream, { epoch: epoch + 1, minted: false });
      const claim = await deps.keyring.claimEpoch(stream, endedIds);
      await setWrapOwed(stream, { epoch: claim.epoch, minted: claim.won });
      if (claim.won) out.push({ stream, epoch: claim.epoch });
      again = true;
    }
    if (!again) {
      await wrapMissing(holdersOf);
      const at = c.iso();
      const rotated = all
        .filter((g) => g.rotatedAt === undefined && ended(g))
        .filter((g) => g.grant.scope.every((s) => settled.has(s.type)))
        .map((g) => ({ ...g, rotatedAt: at }));
      if (rotated.length > 0) await c.copy.addGrants(rotated);
    }
    return { again };
  };

  /**
   * Wraps, on settled streams, every epoch of the stream's key a current holder has no envelope for (its
   * grant wraps the whole history). Finds what a device that claimed an epoch and was lost before wrapping
   * it left undone. Also signs anew every
   * envelope of a current holder (this account included) whose creator is a device of this account that
   * is not active any more (revoked, or unknown to the directory): no device takes a revoked device's
   * signature, and the server keeps the new envelope in its place (same key id).
   */
  const wrapMissing = async (holdersOf: ReadonlyMap<string, StoredGrant[]>): Promise<void> => {
    const streams = [...holdersOf].filter(([, holders]) => holders.length > 0).map(([stream]) => stream);
    if (streams.length === 0) return;
    const reply = await deps.connection.request<KeyHoldersFrame>({
      t: 'listKeyHolders',
      streams: streams as KeyHoldersFrame['holders'][number]['stream'][],
    });
    const held = new Set(reply.holders.map((h) => `${h.stream}|${h.epoch}|${h.recipient}`));
    for (const stream of streams) {
      const grantees = holderAccounts(holdersOf.get(stream)!, null);
      for (let epoch = 0; epoch <= deps.keyring.currentEpoch(stream); epoch++) {
        const lacking = grantees.filter((id) => !held.has(`${stream}|${epoch}|${id}`));
        if (lacking.length === 0 || !(await deps.keyring.keyFor(stream, epoch))) continue;
        const recipients = [];
        for (const accountId of lacking) {
          const wrapping = await c.pins.holderWrappingKey(accountId);
          if (wrapping) recipients.push({ accountId, wrappingPublicKey: wrapping });
        }
        await deps.keyring.wrapEpoch(stream, epoch, recipients);
      }
    }
    await resignRevoked(reply.holders, holdersOf);
  };

  /** `wrapMissing`'s second part: the envelopes whose creator is no active device of this account. */
  const resignRevoked = async (
    holders: KeyHoldersFrame['holders'],
    holdersOf: ReadonlyMap<string, StoredGrant[]>,
  ): Promise<void> => {
    const inactive = new Map<string, Promise<boolean>>();
    const notActive = (deviceId: string): Promise<boolean> => {
      let p = inactive.get(deviceId);
      if (p === undefined) {
        // Unavailable (the lookup failed): not now, the next check asks again.
        p = deps.directory
          .lookupDeviceKey(deps.accountId, deviceId)
          .then((r) => (r.status === 'found' ? r.revokedAt !== undefined : r.status === 'unknown'));
        inactive.set(deviceId, p);
      }
      return p;
    };
    const owed = new Map<string, { stream: string; epoch: number; recipients: string[] }>();
    for (const h of holders) {
      if (h.createdBy === deps.device.deviceId) continue;
      const current =
        h.recipient === deps.accountId ||
        holderAccounts(holdersOf.get(h.stream) ?? [], null).includes(h.recipient);
      if (!current || !(await notActive(h.createdBy))) continue;
      const at = `${h.stream}|${h.epoch}`;
      const entry = owed.get(at) ?? { stream: h.stream, epoch: h.epoch, recipients: [] };
      entry.recipients.push(h.recipient);
      owed.set(at, entry);
    }
    for (const { stream, epoch, recipients: ids } of owed.values()) {
      const recipients = [];
      for (const accountId of ids) {
        const wrapping =
          accountId === deps.accountId
            ? deps.keys.wrapping.publicKey
            : await c.pins.holderWrappingKey(accountId);
        if (wrapping) recipients.push({ accountId, wrappingPublicKey: wrapping });
      }
      // Null for a key this device cannot get (an older epoch it cannot derive): not signed by it.
      await deps.keyring.rewrapEpoch(stream, epoch, recipients);
    }
  };
  /** Epochs minted by checks a refused write started, not yet answered by `rotateExpired`. */
  const background: Rotation[] = [];
  // One check at a time on this device (a revocation and a reconnect may ask at once).
  let settling: Promise<unknown> = Promise.resolve();
  /**
   * Rotates every stream not yet re-keyed past its ended grants, adding the epochs this device minted to
   * `out`; `complete` is false when rounds ran out with a claim still to confirm (the next check goes on).
   * `read`: the keys refreshed and then the server's list read by the caller (`readAfterKeys`), which the
   * first round takes instead of reading both again — unless another round began since (it may have
   * refreshed the keys after that list was read).
   */
  const settle = (out: Rotation[], read?: ReadAfterKeys): Promise<{ complete: boolean }> => {
    const run = settling.then(async () => {
      for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
        const taken = round === 0 && read?.round === roundsBegun ? (read.records ?? undefined) : undefined;
        if (!(await settleRound(out, taken)).again) return { complete: true };
      }
      return { complete: false };
    });
    settling = run.catch(() => undefined);
    return run;
  };
  return { wrapsOwed, candidateSets, readAfterKeys, wrapMissing, background, settle };
};
