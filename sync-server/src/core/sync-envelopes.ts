/*
 * Key envelopes: a patient device publishes them (`putEnvelopes`), lists who holds which epochs
 * (`listKeyHolders`), and any account fetches those addressed to it (`getEnvelopes`).
 *
 * Invariants:
 * - Key envelopes need no grant to be published: clients built before a grant's envelopes waited for the
 *   server's answer send them before the grant (the protocol version does not tell them apart), and
 *   current ones wrap each epoch for every account their copy of the grants holds active, in one
 *   all-or-nothing publish, also one the server holds no unended grant for (granted after the backup a
 *   restore went back to; ended on the server's clock, or by another device, before this one saw it), so
 *   refusing one recipient would keep the epoch from every holder. What a stranger can address to an
 *   account is bounded instead: epochs below MAX_STREAM_EPOCHS (`putEnvelopes`),
 *   so at most MAX_STREAM_EPOCHS rows per stream and recipient. A key fetch reads only the rows of streams the caller may fetch then, at
 *   most a frame's worth, and answers TOO_LARGE rather than more than MAX_FRAME_BYTES (`getEnvelopes`).
 * - A publish is all or nothing (one store transaction), signatures checked last, the publishing device's
 *   revocation read just before the write (`refuseRevokedWriter`).
 * - A key fetch decides again once the envelopes are read, and once more inside the transaction that logs
 *   it (`decideAndLog`): a stream refused then hands out none of its keys.
 *
 * Failure modes: FORBIDDEN, TOO_LARGE (an epoch at MAX_STREAM_EPOCHS, too many holders, an answer over
 * MAX_FRAME_BYTES), BAD_SIGNATURE, NOT_FOUND, DEVICE_REVOKED, a consent code; nothing stored or served then.
 */
import {
  envelopeSignaturePayload,
  MAX_FRAME_BYTES,
  MAX_KEY_HOLDERS,
  MAX_STREAM_EPOCHS,
  parseStreamId,
  type KeyEnvelope,
  type KeyHolder,
} from '@hale/protocol';
import { ServiceError } from './service-error';
import { decideAccess, grantedStreams, type AccessDecision, type Principal } from './access';
import { verifyPayload } from './sync-signing';
import { ownStreams } from './sync-streams';
import type { Consent } from './sync-consent';
import type { AccessLog } from './sync-access-log';
import type { DeniedAccess } from './denied-access';
import type { AuthenticatedDevice, SyncContext } from './sync-context';

/** Room kept in an `envelopes` answer for everything but its envelopes (`{"t":"envelopes","rid":…}`). */
const ENVELOPES_FRAME_OVERHEAD_BYTES = 1024;
/**
 * Fewest bytes one envelope takes in an `envelopes` answer (its JSON and a comma): the narrowest the
 * schema allows takes more (envelope-bounds.test.ts). An answer of more rows than a frame holds at this
 * size can never be sent, so a key fetch reads at most one row more than that, whatever is stored.
 */
export const ENVELOPE_MIN_BYTES = 140;
const MAX_ENVELOPES_ANSWERED = Math.floor(
  (MAX_FRAME_BYTES - ENVELOPES_FRAME_OVERHEAD_BYTES) / ENVELOPE_MIN_BYTES,
);

export const createEnvelopes = (
  { deps, store, now, ed, iso }: SyncContext,
  { grantsFor, check, refuseRevokedWriter }: Consent,
  { decideAndLog, repeatable }: AccessLog,
  /** Where the consent refusals of a key fetch go (denied-access.ts `note`). */
  noteDenied: DeniedAccess['note'] = () => Promise.resolve(),
) => {
  /**
   * Stores a patient device's envelopes of the account's own streams, all or none; none of an epoch at
   * MAX_STREAM_EPOCHS or above (TOO_LARGE), which bounds what strangers can address to one account per
   * stream. Not bounded by the stream's stored epoch: a device may hold epochs the store lost (a restore
   * onto an empty disk, a server that withheld them), claims the one after the highest it held, and
   * grants with the envelopes of every epoch it holds, in one frame (a bound of stored + 1 refused such a
   * grant whole: test/consent/grant-after-lost-epochs.e2e.test.ts). Once stored, those addressed to other accounts
   * are passed to `onEnvelopesStored` (the live hub tells their devices).
   */
  const putEnvelopes = async (p: AuthenticatedDevice, envelopes: KeyEnvelope[]): Promise<void> => {
    // Validate everything first so a bad envelope stores nothing; signatures last (the costly check).
    for (const env of envelopes) {
      const decision = await check(p, env.stream, 'envelope-publish');
      if (!decision.ok) throw new ServiceError(decision.code, decision.message, { stream: env.stream });
      if (env.createdBy !== p.deviceId)
        throw new ServiceError('FORBIDDEN', 'createdBy must be the publishing device');
    }
    for (const env of envelopes) {
      const { stream, epoch } = env;
      if (epoch >= MAX_STREAM_EPOCHS) {
        throw new ServiceError('TOO_LARGE', `a stream has at most ${MAX_STREAM_EPOCHS} key epochs`, {
          stream,
          epoch,
          max: MAX_STREAM_EPOCHS,
        });
      }
    }
    for (const env of envelopes) {
      if (
        env.sig === undefined ||
        !(await verifyPayload(ed, p.devicePublicKey, envelopeSignaturePayload(env), env.sig))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'envelope must be signed by the publishing device');
      }
      if (!(await store.accounts.get(env.recipient))) {
        throw new ServiceError('NOT_FOUND', `recipient ${env.recipient} not found`);
      }
    }
    const createdAt = iso();
    await refuseRevokedWriter(p);
    // One atomic step: stored one by one, a failure after the first would leave a rotation half stored —
    // a grantee's envelope moving the stream's epoch while the patient's own is missing.
    await store.envelopes.putAll(
      envelopes.map((env) => ({
        stream: env.stream,
        epoch: env.epoch,
        recipient: env.recipient,
        keyId: env.keyId,
        wrapped: env.wrapped,
        createdBy: env.createdBy,
        ...(env.sig === undefined ? {} : { sig: env.sig }),
        createdAt,
      })),
    );
    // Only the patient publishes (checked above), so any other recipient is a grantee or one to be.
    const toOthers = new Map<string, Set<string>>();
    for (const env of envelopes) {
      if (env.recipient === p.accountId) continue;
      const streams = toOthers.get(env.recipient) ?? new Set<string>();
      streams.add(env.stream);
      toOthers.set(env.recipient, streams);
    }
    // Side by side: one recipient's notice may wait behind its connections' re-evaluations.
    const notify = deps.onEnvelopesStored;
    if (notify) {
      await Promise.all(
        [...toOthers].map(async ([recipient, streams]) => notify(recipient, p.accountId, [...streams])),
      );
    }
  };

  /**
   * Which accounts hold which key epochs of the caller's own streams (no key material): lets any of the
   * patient's devices wrap an epoch a current grantee lacks, and (each row names its envelope's creator)
   * sign anew an envelope a revoked device created (`putEnvelopes` then stores it in its place, store rule). Other accounts'
   * streams are refused whole.
   */
  const listKeyHolders = async (p: Principal, streams: string[]): Promise<KeyHolder[]> => {
    for (const stream of streams) {
      const parsed = parseStreamId(stream);
      if (!parsed.ok || parsed.value.patientId !== p.accountId) {
        throw new ServiceError('FORBIDDEN', 'only the patient lists who holds the keys of its streams', {
          stream,
        });
      }
    }
    const rows = await store.envelopes.holders(streams, MAX_KEY_HOLDERS + 1);
    if (rows.length > MAX_KEY_HOLDERS) {
      throw new ServiceError('TOO_LARGE', `more than ${MAX_KEY_HOLDERS} key holders: ask for fewer streams`);
    }
    return rows.map((r) => ({
      stream: r.stream as KeyHolder['stream'],
      epoch: r.epoch,
      recipient: r.recipient,
      createdBy: r.createdBy,
    }));
  };

  /**
   * The envelopes addressed to `p` of `streams` (all it may fetch when none are named) that it may fetch
   * now. Only rows of those streams are read (its own streams and those its unended grants give, or the
   * named ones access allows), so envelopes other accounts addressed to it cost it nothing until they
   * grant it the stream; and at most as many as one frame could hold. TOO_LARGE, serving and logging
   * nothing, when the answer would exceed MAX_FRAME_BYTES: the device asks again for fewer streams, and
   * one stream always fits (MAX_STREAM_EPOCHS). Streams it may not fetch are left out, not refused.
   */
  const getEnvelopes = async (p: Principal, streams?: string[]): Promise<KeyEnvelope[]> => {
    const grants = await grantsFor(p, streams);
    const t = now();
    const candidates =
      streams ?? [...ownStreams(p), ...grantedStreams(grants, p.accountId, t)].map((s) => s.stream);
    const readable = new Map<string, Extract<AccessDecision, { ok: true }>>();
    const refusals: Array<{ stream: string; code: string }> = [];
    for (const stream of candidates) {
      const decision = decideAccess(p, stream, 'envelope-fetch', grants, t);
      if (decision.ok) readable.set(stream, decision);
      else refusals.push({ stream, code: decision.code });
    }
    // Left out of the answer, not refused; still a named stream the device holds no grant for.
    await noteDenied(p, refusals);
    if (readable.size === 0) return [];
    const tooLarge = () =>
      new ServiceError(
        'TOO_LARGE',
        `the envelopes asked for exceed ${MAX_FRAME_BYTES} bytes: ask for fewer streams`,
      );
    const rows = await store.envelopes.list(p.accountId, [...readable.keys()], MAX_ENVELOPES_ANSWERED + 1);
    if (rows.length > MAX_ENVELOPES_ANSWERED) throw tooLarge();
    const out: KeyEnvelope[] = [];
    const counts = new Map<string, { count: number; decision: AccessDecision }>();
    let bytes = ENVELOPES_FRAME_OVERHEAD_BYTES;
    for (const row of rows) {
      // The store was asked for the rows of `readable`'s streams only.
      const decision = readable.get(row.stream)!;
      const env: KeyEnvelope = {
        stream: row.stream as KeyEnvelope['stream'],
        epoch: row.epoch,
        recipient: row.recipient,
        keyId: row.keyId,
        wrapped: row.wrapped,
        createdBy: row.createdBy,
      };
      if (row.sig !== undefined) env.sig = row.sig;
      bytes += Buffer.byteLength(JSON.stringify(env)) + 1;
      if (bytes > MAX_FRAME_BYTES) throw tooLarge();
      out.push(env);
      if (decision.level !== 'owner') {
        counts.set(row.stream, { count: (counts.get(row.stream)?.count ?? 0) + 1, decision });
      }
    }
    // Decided again now that the envelopes are read, and once more inside the transaction that logs the
    // access: a grant revoked or ended meanwhile hands out none of its stream's keys (left out, as streams
    // it may not fetch are) and the log claims no fetch of them.
    const refused = await decideAndLog(
      p,
      'envelope-fetch',
      [...counts.keys()],
      [...counts].map(([stream, { count, decision }]) => repeatable('key-fetch', stream, count, decision)),
    );
    await noteDenied(
      p,
      [...refused].map(([stream, error]) => ({ stream, code: error.code })),
    );
    return refused.size === 0 ? out : out.filter((env) => !refused.has(env.stream));
  };

  return { putEnvelopes, listKeyHolders, getEnvelopes };
};
