/**
 * Continuing this device's chain where the server says it ends, instead of giving rows up.
 *
 * | case | trigger | checked before | result |
 * | ---- | ------- | -------------- | ------ |
 * | served end (`continueAfterServedEnd`) | first refused row meets a held position: APPEND_ONLY with `chainEnd` (the chain state went back: a backup restored, or two processes) | rows `rewritable`; end ≥ refused position; own log: the served chain verifies whole and ends exactly there; other logs: a KEPT entry there has that link hash and none lies past it | rows re-signed after the end (same ids, bodies, times), pushed again in the same flush |
 * | own restore (`continueAfterRestore`) | a connection announces another incarnation than OWN_ACKED's, with an own row to push or a log a check read | served own chain whole, ends below OWN_ACKED, nothing served past it | OWN_LOST noted, own rows re-signed after the served end, OWN_ACKED lowered, SEEN lowered; `verify` reports the loss until `acceptLosses` |
 *
 * - `rewritable`: rows may leave their positions only when none may be stored (pushed unanswered, or a
 *   KEPT row sent again) and they are the chain's contiguous tail up to its position.
 * - A lying server can only have the device re-sign its own entries at other positions: the patient's
 *   devices then report a gap or a broken link in its chain.
 * - What cannot be checked now (locked, log unreadable) throws: the rows are held and retried, never given
 *   up for it; for the own restore, nothing is pushed (a row pushed first would link to a lost entry).
 * - Own restore writes OWN_LOST first and OWN_ACKED last: a crash in between repeats it to the same result
 *   (signatures are deterministic). A chain served short with no restore announced, not whole, or with a
 *   hole, is never continued.
 */
import { base64urlDecode, base64urlEncode, chainLinkHash, signCanonical } from '@hale/crypto';
import { auditSignaturePayload, type AuditChainEnd, type PushDoc, type ServedDoc } from '@hale/protocol';
import { AUDIT_STATE } from './stored-state';
import { verifyAuditChains, type ChainState } from './audit-chain';
import type { AuditCore } from './context';
import { chainKey, seenKey } from './meta-keys';
import { fetchAll } from './served-log';
import {
  MAX_OWN_LOST,
  OUTBOX,
  OUTBOX_STATE,
  OWN_ACKED,
  OWN_LOST,
  OutboxState,
  OwnAcked,
  OwnLost,
  SeenChains,
  outboxNow,
  patientOf,
} from './stored';

type Core = Pick<AuditCore, 'deps' | 'issue' | 'names' | 'served' | 'ownStream' | 'serial'>;

/** Whether `rows` (every outbox row of one chain, in order) may leave their positions (see the header). */
export const rewritable = async (
  core: Core,
  stream: string,
  rows: PushDoc[],
  state: OutboxState,
  kept: () => Promise<readonly PushDoc[]>,
): Promise<boolean> => {
  const first = rows[0]?.audit;
  const last = rows.at(-1)?.audit;
  if (first === undefined || last === undefined) return false;
  const maybe = new Set(state.maybeStored);
  if (rows.some((r) => maybe.has(r.id))) return false;
  const resent = new Set((await kept()).map((r) => r.id));
  if (rows.some((r) => resent.has(r.id))) return false;
  // Contiguous positions: a hole means a later position was acknowledged, which links to these rows.
  if (rows.some((r, i) => r.audit?.authorSeq !== first.authorSeq + i)) return false;
  const chain = await core.deps.meta.get(chainKey(core, patientOf(stream)), AUDIT_STATE.auditChain);
  return chain !== null && chain.seq === last.authorSeq;
};

/**
 * The refused `rows` re-signed after the server's `end` and the chain position after them, or null when
 * that is not sound (handled as any refusal). Throws when it cannot be checked now (see the header).
 */
export const continueAfterServedEnd = async (
  core: Core,
  stream: string,
  rows: PushDoc[],
  end: AuditChainEnd,
  state: OutboxState,
  kept: () => Promise<readonly PushDoc[]>,
): Promise<{ rows: PushDoc[]; chain: ChainState } | null> => {
  const first = rows[0]?.audit;
  if (first === undefined || end.authorSeq < first.authorSeq) return null;
  if (!(await rewritable(core, stream, rows, state, kept))) return null;
  core.deps.assertUnlocked?.();
  if (stream === core.ownStream) {
    const { head, top } = await servedOwnChain(core);
    if (head.seq !== end.authorSeq || head.hash !== end.linkHash || top !== head.seq) return null;
  } else {
    const mine = await kept();
    if (mine.some((d) => (d.audit?.authorSeq ?? 0) > end.authorSeq)) return null;
    const there = mine.find((d) => d.audit?.authorSeq === end.authorSeq);
    if (there?.audit !== undefined) {
      const sig = base64urlDecode(there.sig ?? '');
      const payload = auditSignaturePayload({ ...there, audit: there.audit });
      if (!sig.ok || chainLinkHash(payload, sig.value) !== end.linkHash) return null;
    }
  }
  return relinkAfter(core, rows, { seq: end.authorSeq, hash: end.linkHash });
};

/**
 * This device's chain in its account's own log as served (`log`, else read now): how far it verifies whole
 * under this device's key (`head`), and the highest position served of it (`top`).
 */
const servedOwnChain = async (
  core: Core,
  log?: readonly ServedDoc[],
): Promise<{ head: ChainState; top: number }> => {
  const { deps } = core;
  const own = deps.device.deviceId;
  const mine = (log ?? (await fetchAll(core, deps.accountId))).filter(
    (e) => e.author === own && e.stream === core.ownStream,
  );
  // tweetnacl layout: seed ‖ public key.
  const publicKey = deps.device.secretKey.slice(32);
  const { heads } = await verifyAuditChains(mine, async () => publicKey, deps.ed);
  return {
    head: heads.get(own) ?? { seq: 0, hash: null },
    top: mine.reduce((n, e) => Math.max(n, e.audit?.authorSeq ?? 0), 0),
  };
};

/** `rows` re-signed at the positions after `from`, each linked to the one before, and the chain after. */
const relinkAfter = async (
  core: Core,
  rows: readonly PushDoc[],
  from: ChainState,
): Promise<{ rows: PushDoc[]; chain: ChainState }> => {
  const { deps } = core;
  let chain = from;
  const relinked: PushDoc[] = [];
  for (const doc of rows) {
    const at = doc.audit?.at;
    if (at === undefined) throw new Error('an outbox row has no audit header');
    const unsigned = { ...doc, audit: { authorSeq: chain.seq + 1, prevHash: chain.hash, at } };
    const payload = auditSignaturePayload(unsigned);
    const sig = await signCanonical(deps.ed, deps.device.secretKey, payload.label, payload);
    relinked.push({ ...unsigned, sig: base64urlEncode(sig) });
    chain = { seq: chain.seq + 1, hash: chainLinkHash(payload, sig) };
  }
  return { rows: relinked, chain };
};

/**
 * The own chain continued from the served end after an announced restore (see the header). `outbox`: as
 * a flush read it (null: read here); `log`: as a check read it. Answers the outbox as it leaves it when
 * the chain was continued, else null.
 */
export const continueAfterRestore = async (
  core: Core,
  outbox: readonly PushDoc[] | null,
  log?: readonly ServedDoc[],
): Promise<PushDoc[] | null> => {
  const { deps } = core;
  const { meta } = deps;
  if (core.served === undefined) return null;
  const acked = await meta.get(OWN_ACKED, OwnAcked);
  if (acked?.incarnation === undefined || acked.incarnation === core.served || acked.seq === 0) return null;
  const rows = (outbox ?? (await outboxNow(meta))).filter((d) => d.stream === core.ownStream);
  // Only a row about to be pushed could link to a lost entry: a flush with none reads nothing (a server
  // announcing a new incarnation at every connection must not cost a read of the whole log each time).
  if (rows.length === 0 && log === undefined) return null;
  deps.assertUnlocked?.();
  const incarnation = core.served;
  const own = deps.device.deviceId;
  const { head, top } = await servedOwnChain(core, log);
  if (head.seq >= acked.seq || top > head.seq) {
    await meta.update(OWN_ACKED, OwnAcked, (current) => ({ seq: current?.seq ?? acked.seq, incarnation }));
    return null;
  }
  await meta.update(OWN_LOST, OwnLost, (current) => {
    const list = current ?? [];
    if (list.some((l) => l.from === head.seq + 1 && l.to === acked.seq && l.incarnation === incarnation))
      return current;
    return [...list, { from: head.seq + 1, to: acked.seq, incarnation }].slice(-MAX_OWN_LOST);
  });
  // Every own row, in outbox (append) order, contiguous or not: a row appended from the old position
  // after a crash between the outbox write and the chain write still ends up in one unbroken chain.
  const { rows: moved, chain } = await relinkAfter(core, rows, head);
  const relinked = new Map(moved.map((d) => [d.id, d]));
  // Pushed unanswered before, these rows could only be in the store that was lost.
  const state = await meta.get(OUTBOX_STATE, OutboxState);
  if (state && rows.length > 0) {
    await meta.set(OUTBOX_STATE, {
      ...state,
      maybeStored: state.maybeStored.filter((id) => !relinked.has(id)),
      inFlight: state.inFlight.filter((id) => !relinked.has(id)),
    });
  }
  const left = await meta.update(OUTBOX, AUDIT_STATE.auditOutbox, (current) =>
    (current ?? []).map((d) => relinked.get(d.id) ?? d),
  );
  await meta.update(chainKey(core, deps.accountId), AUDIT_STATE.auditChain, () => chain);
  // The loss is reported from OWN_LOST: SEEN is lowered so that it is not reported twice, and the
  // rewritten positions are not taken for a second loss.
  await meta
    .update(seenKey(core, deps.accountId), SeenChains, (current) => {
      const at = current?.[own];
      if (current === null || at === undefined || at.seq <= head.seq) return current;
      const next: SeenChains = { ...current };
      if (head.hash === null) delete next[own];
      else next[own] = { seq: head.seq, hash: head.hash, incarnation };
      return next;
    })
    .catch(() => null);
  core.issue(
    `AUDIT_OWN_CONTINUED: the server announced a restore of its store and no longer holds positions ` +
      `${head.seq + 1}–${acked.seq} of this device's audit chain for ${deps.accountId}; the chain continues ` +
      `from position ${head.seq} (verify() reports the loss until acceptLosses)`,
  );
  await meta.set(OWN_ACKED, { seq: head.seq, incarnation });
  return left ?? [];
};

/** The own-restore continuation from a log a check read anyway (the account's own log only). */
export const continueOwn = (core: Core, patientId: string, log: readonly ServedDoc[]): Promise<boolean> =>
  patientId === core.deps.accountId
    ? core.serial(async () => (await continueAfterRestore(core, null, log)) !== null)
    : Promise.resolve(false);
