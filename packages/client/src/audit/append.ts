/**
 * Appending an entry: built (numbered, linked, signed, sealed to the patient) when the action happens,
 * even offline, and queued in the outbox (outbox.ts pushes it).
 *
 * Steps of one append, all in `serial`, and what a failure at each leaves:
 *
 * | step                                   | on failure                                                       |
 * | -------------------------------------- | ---------------------------------------------------------------- |
 * | body checked against `AuditEntryBody`  | RecordError VALIDATION_FAILED, nothing signed                    |
 * | chain position read, entry made, moved | nothing appended (position unreadable: no restart at 0, no fork) |
 * | outbox row written                     | read back: queued → appended; not → chain set back; unknown → AUDIT_GAP |
 * | OWN (own actions) written              | appended anyway; reported AUDIT_OWN_NOT_KEPT                     |
 *
 * - Nothing is signed once the account is locked (`assertUnlocked`, checked again inside the position's
 *   update, so a lock meanwhile does not advance it).
 * - The sign-in entry (`device-sign-in` in the own log) is appended once: asked for while one of this
 *   device's is in the outbox, that row is answered (session.ts saves `signed-in` after the append).
 * - `appendAll` gets every wrapping key before signing anything: a patient whose key cannot be had fails
 *   the call with nothing appended; a later storage failure leaves the entries appended before it.
 */
import { AuditEntryBody, validate, type PushDoc } from '@hale/protocol';
import { AUDIT_STATE } from './stored-state';
import { RecordError } from '../records/records';
import { AuditError } from './errors';
import { makeAuditEntry, openAuditBody, type ChainState } from './audit-chain';
import type { AuditCore } from './context';
import { messageOf } from '../core/message-of';
import { chainKey } from './meta-keys';
import { MAX_OWN, OUTBOX, OWN, outboxNow } from './stored';
import type { AuditEntryDetail } from './types';

/** The action of the entry session.ts appends when the device first opens its account. */
const SIGN_IN = 'device-sign-in';

type Core = Pick<AuditCore, 'deps' | 'issue' | 'names' | 'iso' | 'ownStream' | 'serial'>;

/** The key `patientId`'s entries are sealed to; throws when the directory cannot give it. */
const wrappingOf = async (core: Core, patientId: string): Promise<Uint8Array> => {
  const { deps } = core;
  const wrapping =
    patientId === deps.accountId ? deps.keys.wrapping.publicKey : await deps.directory.wrappingKey(patientId);
  if (!wrapping) throw new AuditError('AUDIT_NO_WRAPPING_KEY', `no wrapping key for ${patientId}`);
  return wrapping;
};

/** One entry of `body` in `patientId`'s log, sealed to `wrapping`, with id `id` if given; in `serial`. */
const appendSealedTo = async (
  core: Core,
  patientId: string,
  wrapping: Uint8Array,
  body: AuditEntryDetail,
  id?: string,
): Promise<PushDoc> => {
  const { deps } = core;
  const full: AuditEntryBody = {
    ...body,
    kind: 'AuditEntry',
    actorId: deps.accountId,
    actorDeviceId: deps.device.deviceId,
    at: core.iso(),
  };
  // Callers are apps as well as this library: a body its readers would refuse is never signed.
  const checked = validate(AuditEntryBody, full);
  if (!checked.ok) {
    const issues = (checked.error.details?.issues ?? []).map((i) => `${i.path}: ${i.reason}`).join('; ');
    throw new RecordError('VALIDATION_FAILED', `audit entry refused, nothing appended: ${issues}`);
  }
  const entry: { made?: Awaited<ReturnType<typeof makeAuditEntry>>; before?: ChainState } = {};
  const key = chainKey(core, patientId);
  await deps.meta.update(key, AUDIT_STATE.auditChain, async (chain) => {
    deps.assertUnlocked?.();
    entry.before = chain ?? { seq: 0, hash: null };
    const made = await makeAuditEntry({
      patientId,
      patientWrappingKey: wrapping,
      device: deps.device,
      ed: deps.ed,
      ...(deps.x25519 === undefined ? {} : { x25519: deps.x25519 }),
      chain: chain ?? { seq: 0, hash: null },
      body: full,
      now: deps.now,
      ...(id === undefined ? {} : { id }),
    });
    entry.made = made;
    return made.chain;
  });
  const { made, before } = entry;
  if (made === undefined || before === undefined) throw new Error('audit entry was not made');
  try {
    await deps.meta.update(OUTBOX, AUDIT_STATE.auditOutbox, (outbox) => [...(outbox ?? []), made.doc]);
  } catch (error) {
    // A write reported failed may have stored the row: read back first (see the header's table). The
    // chain is set back only from the position this append set (in `serial`, nothing else moves it).
    const queued = await deps.meta.get(OUTBOX, AUDIT_STATE.auditOutbox).then(
      (outbox) => (outbox ?? []).some((doc) => doc.id === made.doc.id),
      () => undefined,
    );
    if (queued !== true) {
      const gap = (why: string): void =>
        core.issue(
          `AUDIT_GAP: position ${made.chain.seq} of this device's audit chain for ${patientId} was taken by an ` +
            `entry that could not be queued, and ${why}: the log may miss it`,
        );
      if (queued === false) {
        await deps.meta
          .update(key, AUDIT_STATE.auditChain, (chain) =>
            chain?.seq === made.chain.seq && chain.hash === made.chain.hash ? before : chain,
          )
          .catch((rewind: unknown) => gap(`the chain could not be set back (${messageOf(rewind)})`));
      } else gap('the outbox could not be read back to tell');
      throw error;
    }
  }
  // Queued: appended, whatever follows. Failing the call now would have its caller append it again.
  await deps.meta
    .update(OWN, AUDIT_STATE.auditOwn, (own) =>
      [...(own ?? []), { id: made.doc.id, patientId, body: full }].slice(-MAX_OWN),
    )
    .catch((error: unknown) =>
      core.issue(
        `AUDIT_OWN_NOT_KEPT: an audit entry for ${patientId} (${full.action}) was appended but is missing from ` +
          `this device's list of its own actions: ${messageOf(error)}`,
      ),
    );
  return made.doc;
};

/** This device's sign-in entry still in the outbox (its account's own log), or null. */
const queuedSignIn = async (core: Core): Promise<PushDoc | null> => {
  const { deps } = core;
  for (const doc of await outboxNow(deps.meta)) {
    if (doc.stream !== core.ownStream || doc.author !== deps.device.deviceId) continue;
    const body = openAuditBody(doc, deps.keys.wrapping, deps.x25519);
    if (body?.kind === 'AuditEntry' && body.action === SIGN_IN && body.actorDeviceId === deps.device.deviceId)
      return doc;
  }
  return null;
};

/** Appends one entry (`id`: its id, chosen before); the sign-in entry only once (see the header). */
export const append = (
  core: Core,
  patientId: string,
  body: AuditEntryDetail,
  id?: string,
): Promise<PushDoc> =>
  core.serial(async () => {
    core.deps.assertUnlocked?.();
    if (body.action === SIGN_IN && patientId === core.deps.accountId) {
      const queued = await queuedSignIn(core);
      if (queued !== null) return queued;
    }
    return appendSealedTo(core, patientId, await wrappingOf(core, patientId), body, id);
  });

/** Appends an entry to each patient's log named, one after another, every wrapping key had first. */
export const appendAll = (
  core: Core,
  items: readonly { readonly patientId: string; readonly detail: AuditEntryDetail }[],
): Promise<PushDoc[]> =>
  core.serial(async () => {
    core.deps.assertUnlocked?.();
    const keys: Uint8Array[] = [];
    for (const { patientId } of items) keys.push(await wrappingOf(core, patientId));
    const docs = [];
    for (const [n, { patientId, detail }] of items.entries()) {
      docs.push(await appendSealedTo(core, patientId, keys[n]!, detail));
    }
    return docs;
  });
