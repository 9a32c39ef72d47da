/**
 * The device's copy of the grants this account issued (device meta `grants`), and the server's list merged
 * into it.
 *
 * Invariants:
 * - The server's grant list is read whole (`serverGrants`): every page of the grants this account issued
 *   (keyset paging: each grant present throughout the walk once, revocations included as of its page),
 *   never those other accounts issued to it; at most MAX_GRANT_PAGES pages, else TOO_LARGE (listing falls
 *   back to the local copy, re-keying waits).
 * - The device's copy of the grants (device meta `grants`) is written only here (`saveGrants`, through
 *   device meta's `update`, which runs a key's writes one at a time), each write merging into what is
 *   stored at that moment (`mergeGrants`: by grant id, adding grants and the revocation / rotation marks
 *   they lack, never taking one away); a grant a change replaced ends at its successor's signed `issuedAt`, never a copy read before a network round trip: a listing that
 *   began before a revocation cannot undo it, so offline the revoked grant stays listed as revoked and the
 *   write guard keeps shutting it out.
 * - Every write that changes the copy tells its watchers (`onChange`) after it is stored, with the copy
 *   stored then; a watcher that throws is ignored.
 */
import type { ConsentCore } from './consent-core';
import { AUDIT_STATE } from '../audit/stored-state';
import { base64urlDecode, verifyCanonical } from '@hale/crypto';
import type { Grant } from '@hale/protocol';
import {
  type GrantRecord,
  grantSignaturePayload,
  revocationSignaturePayload,
  supersedesGrant,
  type GrantsFrame,
  MAX_GRANTS_PAGE,
} from '@hale/protocol';
import { readPages } from '../sync/read-pages';
import { type StoredGrant, MAX_GRANT_PAGES } from './consent-types';
import { mergeGrants } from './grant-lists';
import type { GrantCopy } from './consent-parts';

export const createGrantCopy = (c: ConsentCore): GrantCopy => {
  const { deps } = c;
  const localGrants = async () => (await deps.meta.get('grants', AUDIT_STATE.grants)) ?? [];
  const watchers = new Set<(stored: readonly StoredGrant[]) => void>();
  /** Calls `watcher` after every write that changed the copy; answers the function that stops it. */
  const onChange = (watcher: (stored: readonly StoredGrant[]) => void): (() => void) => {
    watchers.add(watcher);
    return () => void watchers.delete(watcher);
  };
  /**
   * Every write of the device's copy of the grants: `change` is given what is stored at that moment (the
   * writes of a key run one at a time, device-meta.ts; never a copy read before an await) and answers what
   * to store, or null to leave it. Answers what is stored.
   */
  const saveGrants = async (
    change: (stored: StoredGrant[]) => StoredGrant[] | null,
  ): Promise<StoredGrant[]> => {
    const out: { changed: StoredGrant[] | null } = { changed: null };
    // Through `update`: a stored list that fails its schema (one a newer build wrote) is refused rather
    // than replaced, with the revocation marks it holds.
    const stored = await deps.meta.update('grants', AUDIT_STATE.grants, (current) => {
      out.changed = change(current ?? []);
      return out.changed ?? current;
    });
    if (out.changed === null) return stored ?? [];
    deps.keyring.invalidateWriteChecks();
    c.checks.grantsChanged(out.changed);
    for (const watcher of [...watchers]) {
      try {
        watcher(out.changed);
      } catch {
        // A watcher's failure is its own: the copy is stored.
      }
    }
    return out.changed;
  };
  /** Merges `found` into what is stored now (see `mergeGrants`): a mark stored is never undone. */
  const addGrants = (found: readonly StoredGrant[]): Promise<StoredGrant[]> =>
    saveGrants((stored) => mergeGrants(stored, found));

  /** Whether `sig` is this account's identity key's signature of `payload`. */
  const verifies = async (payload: { label: string }, sig: string): Promise<boolean> => {
    const bytes = base64urlDecode(sig);
    return (
      bytes.ok && verifyCanonical(deps.ed, deps.keys.identity.publicKey, payload.label, payload, bytes.value)
    );
  };
  /**
   * Adds the server's signed copies to the local grants (persisting what was new) and answers the copy
   * stored then. `known` (read before the listing) only spares checking signatures again.
   */
  const merge = async (
    known: readonly StoredGrant[],
    records: readonly GrantRecord[],
  ): Promise<StoredGrant[]> => {
    // By id, first copy wins (as a search of `known` from the start would find it).
    const byId = new Map<string, StoredGrant>();
    for (const g of known) if (!byId.has(g.grant.grantId)) byId.set(g.grant.grantId, g);
    const found: StoredGrant[] = [];
    const learnt: Grant[] = [];
    const learntRevoked: Grant[] = [];
    for (const record of records) {
      const g = record.grant.grant;
      if (g.patientId !== deps.accountId) continue;
      const mine = byId.get(g.grantId);
      // The revocation would change nothing: its signature is not checked again at every listing.
      if (mine?.revokedAt !== undefined) continue;
      // Only what verifies under this account's own identity key is taken from the server: the grant,
      // and a revocation only with the patient's signed revocation of that grant (never `revokedAt` alone).
      if (!mine && !(await verifies(grantSignaturePayload(g), record.grant.sig))) continue;
      const r = record.revocation?.revocation;
      const revokedAt =
        record.revocation &&
        r?.grantId === g.grantId &&
        r.patientId === deps.accountId &&
        (await verifies(revocationSignaturePayload(r), record.revocation.sig))
          ? r.revokedAt
          : undefined;
      // Replaced by a change: only by a successor the patient signed naming this grant, ended at its
      // signed `issuedAt` (the server's `revokedAt` alone is never taken).
      const next = record.supersededBy?.grant;
      const replaced =
        revokedAt === undefined &&
        record.supersededBy !== undefined &&
        next !== undefined &&
        supersedesGrant(next, g) &&
        (await verifies(grantSignaturePayload(next), record.supersededBy.sig))
          ? { revokedAt: next.issuedAt, supersededBy: next.grantId }
          : undefined;
      const end = revokedAt !== undefined ? { revokedAt } : (replaced ?? {});
      if (!mine) {
        const taken: StoredGrant = { grant: g, sig: record.grant.sig, ...end };
        found.push(taken);
        learnt.push(g);
        if (revokedAt !== undefined) learntRevoked.push(g);
        byId.set(g.grantId, taken);
      } else if (end.revokedAt !== undefined) {
        found.push({ grant: mine.grant, sig: mine.sig, ...end });
        if (revokedAt !== undefined) learntRevoked.push(mine.grant);
      }
    }
    const stored = await addGrants(found);
    // A mark that cannot be written leaves the grant to the other devices' checks.
    const notBefore = deps.now() + c.recording.recordGraceMs;
    await c.recording.grantAudit
      .mark(learnt.map((g) => ({ grantId: g.grantId, expiresAt: g.expiresAt, notBefore })))
      .catch(() => undefined);
    // A revocation this device did not send is left to the device that did for as long (its own mark, set
    // before it sent it, is kept if it is this device's: `mark` adds none for a grant marked).
    await c.recording.revocationAudit
      .mark(
        learntRevoked.map((g) => ({
          grantId: g.grantId,
          granteeId: g.granteeId,
          expiresAt: g.expiresAt,
          notBefore,
          own: false,
        })),
      )
      .catch(() => undefined);
    return stored;
  };
  /**
   * The grants this account issued, as the server lists them: every page of the issued side only (so
   * grants other accounts pile onto this one are never read), at most MAX_GRANT_PAGES of them — a server
   * still answering `next` after that is not followed (TOO_LARGE). A page is read after the previous one arrived: the walk is by key, so grants
   * issued meanwhile (on another device) are listed at most once and every other grant exactly once.
   */
  const serverGrants = async (): Promise<GrantRecord[]> => {
    return readPages(
      async (cursor) => {
        const reply = await deps.connection.request<GrantsFrame>({
          t: 'listGrants',
          side: 'issued',
          limit: MAX_GRANTS_PAGE,
          ...(cursor === undefined ? {} : { cursor }),
        });
        return { rows: reply.grants, next: reply.next };
      },
      MAX_GRANT_PAGES,
      `the server lists more than ${MAX_GRANT_PAGES * MAX_GRANTS_PAGE} grants issued by this account`,
    );
  };
  /**
   * The grants this account issued, merged with the server's signed copies when online, so every device
   * of the patient knows grants made on the others (and which were revoked) before listing or revoking.
   */
  const grants = async (): Promise<StoredGrant[]> => {
    const local = await localGrants();
    if (deps.connection.status() !== 'ready') return local;
    let records: GrantRecord[];
    try {
      records = await serverGrants();
    } catch {
      return localGrants();
    }
    return merge(local, records);
  };
  /** As `grants`, but only with the server's current list: re-keying must not go by a stale view. */
  const currentGrants = async (): Promise<StoredGrant[]> => {
    const records = await serverGrants();
    return merge(await localGrants(), records);
  };
  return {
    localGrants,
    saveGrants,
    addGrants,
    verifies,
    merge,
    serverGrants,
    grants,
    currentGrants,
    onChange,
  };
};
