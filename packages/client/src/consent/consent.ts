/**
 * The patient's side of consent: grant, revoke (with key rotation), verify a provider's key.
 *
 * Invariants:
 * - A grant is signed by the patient's identity key; before it is sent, the current key of every granted
 *   stream (all epochs, so the history is readable) is wrapped for the grantee and published.
 * - A provider's identity key is pinned the first time the patient verifies it (or, failing that, at the
 *   first grant); a later grant to an account whose key differs from the pinned one is refused with
 *   KEY_CHANGED until the patient verifies again.
 * - Revocation: the server cuts access at once; then this device mints a new epoch for every stream the
 *   grant covered and wraps it for the remaining holders only, so records written afterwards are
 *   unreadable with the revoked provider's keys. History is not re-encrypted (cost independent of the
 *   number of records) — what the provider already synced cannot be recalled, and the app says so.
 * Failure modes: typed ConsentError codes; nothing is sent when local checks fail.
 */
import {
  base64urlDecode,
  base64urlEncode,
  verifyCanonical,
  keyFingerprint,
  safetyNumber,
  signCanonical,
  type AccountKeys,
  type Ed25519,
} from '@hale/crypto';
import { newId, type StreamType } from '@hale/model';
import {
  grantSignaturePayload,
  revocationSignaturePayload,
  type Grant,
  type GrantScopeEntry,
  type GrantsFrame,
} from '@hale/protocol';
import type { Connection } from '../sync/connection';
import { META_SCHEMAS, type DeviceMeta } from '../session/device-meta';
import type { Keyring } from '../sync/keyring';
import type { DeviceDirectory } from '../sync/device-directory';

export type ConsentErrorCode =
  'KEY_CHANGED' | 'UNKNOWN_ACCOUNT' | 'BAD_SCOPE' | 'BAD_EXPIRY' | 'NOT_FOUND' | 'BAD_INVITE';

export class ConsentError extends Error {
  constructor(
    readonly code: ConsentErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConsentError';
  }
}

/** The wording the app shows before a revocation, because it is true and patients must know it. */
export const REVOCATION_NOTICE =
  'Revoking stops all future access at once and re-keys the affected records. What this provider already ' +
  'synced to their devices cannot be recalled.';

export interface GrantRequest {
  granteeId: string;
  scope: GrantScopeEntry[];
  /** Either an absolute expiry or a duration from now. */
  expiresAt?: string;
  durationMs?: number;
  purpose: string;
  start?: string;
}

export interface StoredGrant {
  grant: Grant;
  sig: string;
  revokedAt?: string;
  /** When this device rotated the grant's streams after it ended (revocation or expiry). */
  rotatedAt?: string;
}

export interface ConsentDeps {
  accountId: string;
  keys: AccountKeys;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  connection: Connection;
  keyring: Keyring;
  directory: DeviceDirectory;
  now: () => number;
  meta: DeviceMeta;
  onEvent?: (event: {
    action: 'consent-grant' | 'consent-revoke' | 'key-rotation';
    detail: Record<string, unknown>;
  }) => void;
}

export const createConsent = (deps: ConsentDeps) => {
  const iso = (ms = deps.now()): string => new Date(ms).toISOString();
  const pinnedKeys = async () => (await deps.meta.get('pinned-keys', META_SCHEMAS.pinnedKeys)) ?? {};
  const localGrants = async () => (await deps.meta.get('grants', META_SCHEMAS.grants)) ?? [];
  /**
   * The grants this account issued, merged with the server's signed copies when online, so every device
   * of the patient knows grants made on the others (and which were revoked) before rotating or listing.
   */
  const grants = async (): Promise<StoredGrant[]> => {
    const local = await localGrants();
    if (deps.connection.status() !== 'ready') return local;
    let reply: GrantsFrame;
    try {
      reply = await deps.connection.request<GrantsFrame>({ t: 'listGrants' });
    } catch {
      return local;
    }
    const verifies = async (payload: { label: string }, sig: string): Promise<boolean> => {
      const bytes = base64urlDecode(sig);
      return (
        bytes.ok &&
        verifyCanonical(deps.ed, deps.keys.identity.publicKey, payload.label, payload, bytes.value)
      );
    };
    let changed = false;
    for (const record of reply.grants) {
      const g = record.grant.grant;
      if (g.patientId !== deps.accountId) continue;
      const mine = local.find((x) => x.grant.grantId === g.grantId);
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
      if (!mine) {
        local.push({ grant: g, sig: record.grant.sig, ...(revokedAt ? { revokedAt } : {}) });
        changed = true;
      } else if (revokedAt !== undefined && mine.revokedAt === undefined) {
        mine.revokedAt = revokedAt;
        changed = true;
      }
    }
    if (changed) await deps.meta.set('grants', local);
    return local;
  };

  const identityOf = async (accountId: string): Promise<Uint8Array> => {
    deps.directory.forget(accountId);
    const presented = await deps.directory.presentedIdentity(accountId);
    if (!presented)
      throw new ConsentError('UNKNOWN_ACCOUNT', `account ${accountId} is not known to the server`);
    if (!presented.selfCertified) {
      throw new ConsentError(
        'KEY_CHANGED',
        'the server presents a key that does not belong to this account; do not share until you have checked',
      );
    }
    return presented.key;
  };

  const streamOf = (type: StreamType): string => `${deps.accountId}/${type}`;

  return {
    REVOCATION_NOTICE,

    /** For out-of-band comparison (read aloud, or scan as QR). */
    async describeProvider(accountId: string) {
      const identity = await identityOf(accountId);
      return {
        accountId,
        fingerprint: keyFingerprint(identity),
        safetyNumber: safetyNumber(deps.keys.identity.publicKey, identity),
      };
    },

    /** The patient compared the safety number out of band: pin the provider's current key. */
    async verifyProvider(accountId: string) {
      const identity = await identityOf(accountId);
      const pinned = await pinnedKeys();
      pinned[accountId] = base64urlEncode(identity);
      await deps.meta.set('pinned-keys', pinned);
      return { accountId, fingerprint: keyFingerprint(identity) };
    },

    /** An invite a provider shows as a QR code or link: its account id and key fingerprint. */
    inviteFor(accountId: string, identityPublicKey: Uint8Array): string {
      return `hale-invite:1:${accountId}:${keyFingerprint(identityPublicKey).replace(/\s+/g, '')}`;
    },

    /** Checks an invite against the key the server presents now; pins it when it matches. */
    async acceptInvite(invite: string) {
      const m = /^hale-invite:1:([A-Za-z0-9_-]{22}):([0-9A-Za-z]+)$/.exec(invite.trim());
      if (!m) throw new ConsentError('BAD_INVITE', 'this is not a Hale invite');
      const [, accountId, fingerprint] = m as unknown as [string, string, string];
      const identity = await identityOf(accountId);
      if (keyFingerprint(identity).replace(/\s+/g, '') !== fingerprint) {
        throw new ConsentError('KEY_CHANGED', "the provider's key does not match the invite");
      }
      const pinned = await pinnedKeys();
      pinned[accountId] = base64urlEncode(identity);
      await deps.meta.set('pinned-keys', pinned);
      return { accountId, fingerprint: keyFingerprint(identity) };
    },

    async isVerified(accountId: string): Promise<boolean> {
      return (await pinnedKeys())[accountId] !== undefined;
    },

    async grant(request: GrantRequest): Promise<StoredGrant> {
      if (request.scope.length === 0) throw new ConsentError('BAD_SCOPE', 'choose at least one record type');
      if (request.scope.some((s) => (s.type as string) === 'audit')) {
        throw new ConsentError('BAD_SCOPE', 'the audit log cannot be shared');
      }
      const now = deps.now();
      const start = request.start ?? iso(now);
      const expiresAt =
        request.expiresAt ?? (request.durationMs !== undefined ? iso(now + request.durationMs) : undefined);
      if (expiresAt === undefined || Date.parse(expiresAt) <= Date.parse(start)) {
        throw new ConsentError('BAD_EXPIRY', 'the expiry must be after the start');
      }
      const identity = await identityOf(request.granteeId);
      const pinned = await pinnedKeys();
      const current = base64urlEncode(identity);
      if (pinned[request.granteeId] !== undefined && pinned[request.granteeId] !== current) {
        throw new ConsentError(
          'KEY_CHANGED',
          "this provider's key changed since you verified it; compare the safety number again before sharing",
        );
      }
      if (pinned[request.granteeId] === undefined) {
        pinned[request.granteeId] = current;
        await deps.meta.set('pinned-keys', pinned);
      }
      const wrapping = await deps.directory.wrappingKey(request.granteeId);
      if (!wrapping) throw new ConsentError('UNKNOWN_ACCOUNT', 'no wrapping key for the grantee');
      const envelopes = [];
      for (const s of request.scope) {
        envelopes.push(
          ...(await deps.keyring.envelopesFor(streamOf(s.type), {
            accountId: request.granteeId,
            wrappingPublicKey: wrapping,
          })),
        );
      }
      if (envelopes.length > 0) await deps.connection.request({ t: 'putEnvelopes', envelopes });
      const grant: Grant = {
        v: 1,
        grantId: newId(deps.now),
        patientId: deps.accountId,
        granteeId: request.granteeId,
        scope: request.scope.map((s) => ({ type: s.type, access: s.access })),
        start,
        expiresAt,
        purpose: request.purpose,
        issuedAt: iso(now),
      };
      const payload = grantSignaturePayload(grant);
      const sig = base64urlEncode(
        await signCanonical(deps.ed, deps.keys.identity.secretKey, payload.label, payload),
      );
      await deps.connection.request({ t: 'grant', grant: { grant, sig } });
      const stored: StoredGrant = { grant, sig };
      await deps.meta.set('grants', [...(await localGrants()), stored]);
      deps.onEvent?.({
        action: 'consent-grant',
        detail: {
          grantId: grant.grantId,
          granteeId: grant.granteeId,
          scope: grant.scope,
          expiresAt,
          purpose: grant.purpose,
        },
      });
      return stored;
    },

    async revoke(grantId: string): Promise<{ rotated: Array<{ stream: string; epoch: number }> }> {
      const all = await grants();
      const target = all.find((g) => g.grant.grantId === grantId);
      if (!target) throw new ConsentError('NOT_FOUND', 'no such grant on this device');
      const revocation = { v: 1 as const, grantId, patientId: deps.accountId, revokedAt: iso() };
      const payload = revocationSignaturePayload(revocation);
      const sig = base64urlEncode(
        await signCanonical(deps.ed, deps.keys.identity.secretKey, payload.label, payload),
      );
      await deps.connection.request({ t: 'revoke', revocation: { revocation, sig } });
      target.revokedAt = revocation.revokedAt;
      await deps.meta.set('grants', all);
      deps.onEvent?.({ action: 'consent-revoke', detail: { grantId, granteeId: target.grant.granteeId } });
      const rotated = await this.rotateFor(target, all);
      target.rotatedAt = iso();
      await deps.meta.set('grants', all);
      return { rotated };
    },

    /** Rotates the streams of grants that expired since the last check (called on connect and by the app). */
    async rotateExpired(): Promise<Array<{ stream: string; epoch: number }>> {
      const all = await grants();
      const now = deps.now();
      const out: Array<{ stream: string; epoch: number }> = [];
      for (const g of all) {
        if (g.rotatedAt !== undefined || g.revokedAt !== undefined || Date.parse(g.grant.expiresAt) > now)
          continue;
        out.push(...(await this.rotateFor(g, all)));
        g.rotatedAt = iso();
        await deps.meta.set('grants', all);
      }
      return out;
    },

    /** New epoch for every stream of `ended`, wrapped for the holders that remain. Also used at expiry. */
    async rotateFor(ended: StoredGrant, all: StoredGrant[]) {
      const now = deps.now();
      const rotated: Array<{ stream: string; epoch: number }> = [];
      for (const s of ended.grant.scope) {
        const stream = streamOf(s.type);
        const remaining = all.filter(
          (g) =>
            g.grant.grantId !== ended.grant.grantId &&
            g.revokedAt === undefined &&
            Date.parse(g.grant.expiresAt) > now &&
            g.grant.scope.some((x) => x.type === s.type),
        );
        const holders = [];
        for (const g of remaining) {
          const wrapping = await deps.directory.wrappingKey(g.grant.granteeId);
          if (wrapping) holders.push({ accountId: g.grant.granteeId, wrappingPublicKey: wrapping });
        }
        const epoch = await deps.keyring.rotate(stream, holders);
        rotated.push({ stream, epoch });
        deps.onEvent?.({ action: 'key-rotation', detail: { stream, epoch, holders: holders.length } });
      }
      return rotated;
    },

    /** Grants this device issued (with their state at `now`). */
    async list() {
      const now = deps.now();
      return (await grants()).map((g) => ({
        ...g,
        status:
          g.revokedAt !== undefined ? 'revoked' : Date.parse(g.grant.expiresAt) <= now ? 'expired' : 'active',
      }));
    },
  };
};

export type Consent = ReturnType<typeof createConsent>;
