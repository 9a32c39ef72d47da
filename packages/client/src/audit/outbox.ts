/**
 * Pushing the outbox. A patient's rows are the contiguous tail of this device's chain for that patient,
 * pushed in chain order (after a restore, KEPT rows sent again may precede them); retries re-send the same
 * bytes, so nothing is duplicated.
 *
 * A row leaves the outbox only when:
 * | case | condition | the chain |
 * | ---- | --------- | --------- |
 * | acknowledged | `ok`, or a conflict whose stored entry is this one byte for byte | — |
 * | given up | refusal final and every later row of its chain goes too, none can be stored (`rewritable`) | rewound to just before it |
 * | resent and refused for good | a KEPT row sent again after a restore, refusal final | not moved (already past it) |
 * | continued | refused naming the server's chain end (continuation.ts) | re-signed after that end, pushed again at once (MAX_CONTINUE_ROUNDS) |
 *
 * | refusal | retried |
 * | ------- | ------- |
 * | not `retryable` (BAD_SIGNATURE, FORBIDDEN, …) | final at once |
 * | ACCESS_CODES, or a code marked `retry` (RATE_LIMITED, busy) | backoff 30 s doubling to 6 h, and at once when a new row of the stream is appended; final after 7 days and 3 refusals |
 * | any, with a row pushed unanswered (maybe stored) | never given up: acknowledged once the server takes pushes again |
 *
 * - A refused row holds back the later rows of its chain (stored first, it would be out of order or lost).
 * - Rows go before the chain is rewound or moved: a crash in between leaves a gap, never a fork.
 * - Nothing is pushed while the own restore check may re-sign rows and cannot run (locked, log unreadable).
 * - An unreadable outbox state holds nothing back by time and gives nothing up.
 * - Every refusal and give-up is reported in `issues`; held chains are listed by `undelivered`.
 */
import {
  ERROR_CODES,
  isErrorCode,
  type AuditChainEnd,
  type PushDoc,
  type PushedFrame,
  type PushResult,
  type ServedDoc,
} from '@hale/protocol';
import { AUDIT_STATE } from './stored-state';
import type { AuditCore } from './context';
import { continueAfterRestore, continueAfterServedEnd, rewritable } from './continuation';
import { keepAcknowledged, keptOf, keptOnce, resendAfterRestore, type KeptState } from './kept';
import { chainKey } from './meta-keys';
import { OUTBOX, OUTBOX_STATE, OWN_ACKED, OutboxState, OwnAcked, outboxNow, patientOf } from './stored';
import type { UndeliveredChain } from './types';

const BATCH = 200;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 6 * 3600_000;
const GIVE_UP_AFTER_MS = 7 * 24 * 3600_000;
const GIVE_UP_MIN_REFUSALS = 3;
/** Pushes of one flush: a chain continued after the server's end goes out again at once. */
const MAX_CONTINUE_ROUNDS = 3;
/** Refusals a later push may not repeat: the grant may be renewed. Codes marked `retry` are the others. */
const ACCESS_CODES: ReadonlySet<string> = new Set(['NO_CONSENT', 'CONSENT_EXPIRED', 'CONSENT_REVOKED']);

const backoff = (refusals: number): number =>
  Math.min(BACKOFF_BASE_MS * 2 ** Math.min(refusals - 1, 20), BACKOFF_MAX_MS);

/** Whether a later push could be accepted: the grant may return, or the server was busy. */
const retryable = (code: string): boolean =>
  ACCESS_CODES.has(code) || (isErrorCode(code) && ERROR_CODES[code].retry);

/** A conflict whose stored entry is ours byte for byte in every signed field: already stored. */
const sameStored = (master: ServedDoc | null, doc: PushDoc): boolean =>
  master !== null &&
  master.rev === doc.rev &&
  master.ct === doc.ct &&
  master.sig === doc.sig &&
  master.author === doc.author &&
  master.audit?.authorSeq === doc.audit?.authorSeq &&
  master.audit?.prevHash === doc.audit?.prevHash &&
  master.audit?.at === doc.audit?.at;

type Core = Pick<
  AuditCore,
  'deps' | 'issue' | 'iso' | 'names' | 'served' | 'ownStream' | 'serial' | 'accessGone'
>;
interface Outbox {
  readonly core: Core;
  readonly kept: KeptState;
}

type Refusal = { code: string; message: string; chainEnd?: AuditChainEnd };

/** What one push did so far: read by `settle` whether it finished or threw. */
interface Push {
  readonly outbox: PushDoc[];
  readonly state: OutboxState | null;
  readonly t: number;
  readonly acked: Set<string>;
  /** Streams refused in this push (first refusal): their later rows are not sent. */
  readonly refused: Map<string, Refusal>;
  sent: number;
}

const rowsOf = (rows: readonly PushDoc[], stream: string): PushDoc[] =>
  rows.filter((d) => d.stream === stream);

/** The outbox state, a push that was under way (the device stopped) counted as unanswered; null: unreadable. */
const loadState = async (core: Core): Promise<OutboxState | null> => {
  try {
    return await core.deps.meta.update(OUTBOX_STATE, OutboxState, (current) => {
      const s = current ?? { held: {}, maybeStored: [], inFlight: [] };
      return { ...s, maybeStored: [...new Set([...s.maybeStored, ...s.inFlight])], inFlight: [] };
    });
  } catch {
    return null;
  }
};

/** Pushes the outbox (after the restore checks); answers how many rows were acknowledged. */
export const flush = (s: Outbox): Promise<number> =>
  s.core.serial(async () => {
    const { core } = s;
    if (core.deps.connection.status() !== 'ready') return 0;
    // Read once: each step answers the outbox as it leaves it (every writer runs in `serial`).
    let outbox = await outboxNow(core.deps.meta);
    outbox = (await continueAfterRestore(core, outbox)) ?? outbox;
    outbox = await resendAfterRestore(s, outbox);
    let sent = 0;
    // A server that keeps refusing the continued rows meets them again only at the next flush.
    for (let round = 0; round < MAX_CONTINUE_ROUNDS; round++) {
      const pushed = await pushOutbox(s, outbox);
      outbox = pushed.outbox;
      sent += pushed.sent;
      if (!pushed.continued) break;
    }
    return sent;
  });

/** One push of the due rows of `outbox`, in batches, then `settle`. */
const pushOutbox = async (
  s: Outbox,
  outbox: PushDoc[],
): Promise<{ sent: number; continued: boolean; outbox: PushDoc[] }> => {
  if (outbox.length === 0) return { sent: 0, continued: false, outbox };
  const push: Push = {
    outbox,
    state: await loadState(s.core),
    t: s.core.deps.now(),
    acked: new Set(),
    refused: new Map(),
    sent: 0,
  };
  let settled: { continued: boolean; outbox: PushDoc[] } | undefined;
  try {
    await sendDue(s.core, push);
  } finally {
    settled = await settle(s, push);
  }
  return { sent: push.sent, ...settled };
};

/** Sends the rows not held back by a refusal's backoff, batch by batch, noting answers in `push`. */
const sendDue = async (core: Core, push: Push): Promise<void> => {
  const { state, outbox, t, refused } = push;
  const { meta, connection } = core.deps;
  const due = (stream: string): boolean => {
    const held = state?.held[stream];
    return held === undefined || t >= held.nextAt || rowsOf(outbox, stream).length > held.rows;
  };
  const sendable = outbox.filter((d) => due(d.stream));
  for (let i = 0; i < sendable.length; i += BATCH) {
    const batch = sendable.slice(i, i + BATCH).filter((d) => !refused.has(d.stream));
    if (batch.length === 0) continue;
    if (state) {
      state.inFlight = batch.map((d) => d.id);
      await meta.set(OUTBOX_STATE, state);
    }
    let reply: PushedFrame;
    try {
      reply = await connection.request<PushedFrame>({
        t: 'push',
        rows: batch.map((doc) => ({ doc, assumedRev: null })),
      });
    } catch (e) {
      // No answer: the server may have stored any of them.
      if (state) {
        state.maybeStored = [...new Set([...state.maybeStored, ...state.inFlight])];
        state.inFlight = [];
      }
      throw e;
    }
    const results = new Map<string, PushResult>(reply.results.map((r) => [`${r.stream}\n${r.id}`, r]));
    const unanswered: string[] = [];
    for (const doc of batch) {
      const r = results.get(`${doc.stream}\n${doc.id}`);
      if (r === undefined) {
        unanswered.push(doc.id);
      } else if (r.status === 'ok' || (r.status === 'conflict' && sameStored(r.master, doc))) {
        push.acked.add(doc.id);
        push.sent++;
      } else {
        // conflict: another entry holds this id (ids are random: never ours to overwrite).
        const why: Refusal =
          r.status === 'error'
            ? {
                code: r.code,
                message: r.message,
                ...(r.code === 'APPEND_ONLY' && r.chainEnd !== undefined ? { chainEnd: r.chainEnd } : {}),
              }
            : { code: 'CONFLICT', message: 'another entry is stored under this id' };
        if (!refused.has(doc.stream)) {
          refused.set(doc.stream, why);
          core.issue(`${why.code}: ${why.message} (audit entry for ${patientOf(doc.stream)})`);
        }
      }
    }
    if (state) {
      state.maybeStored = [...new Set([...state.maybeStored, ...unanswered])];
      state.inFlight = [];
    }
  }
};

/**
 * After a push (finished or not): refused chains continued, held or given up, then the outbox, OWN_ACKED,
 * KEPT and rewound chain positions written, in that order (see the header).
 */
const settle = async (s: Outbox, push: Push): Promise<{ continued: boolean; outbox: PushDoc[] }> => {
  const { core } = s;
  const { meta } = core.deps;
  const { outbox, state, t, acked } = push;
  let remaining = outbox.filter((d) => !acked.has(d.id));
  let continued = false;
  const rewinds: Array<{ patientId: string; seq: number; hash: string | null }> = [];
  if (state) {
    state.maybeStored = state.maybeStored.filter((id) => !acked.has(id));
    for (const stream of Object.keys(state.held)) {
      if (rowsOf(remaining, stream).length === 0) delete state.held[stream];
    }
    for (const [stream, why] of push.refused) {
      let rows = rowsOf(remaining, stream);
      const kept = keptOnce(s, patientOf(stream));
      /** The continuation after the server's end could not be checked now: never given up for it. */
      let unchecked = false;
      if (why.chainEnd !== undefined && rows.length > 0) {
        const end = why.chainEnd;
        const moved = await continueAfterServedEnd(core, stream, rows, end, state, kept).catch(
          () => undefined,
        );
        unchecked = moved === undefined;
        if (moved) {
          const byId = new Map(moved.rows.map((d) => [d.id, d]));
          remaining = remaining.map((d) => byId.get(d.id) ?? d);
          delete state.held[stream];
          rewinds.push({ patientId: patientOf(stream), ...moved.chain });
          continued = true;
          const from = rows[0]!.audit!.authorSeq;
          const n = rows.length;
          core.issue(
            `AUDIT_CHAIN_CONTINUED: the server already holds positions ${from}–${end.authorSeq} of this ` +
              `device's audit chain for ${patientOf(stream)} (this device's chain state was older: restored ` +
              `from a backup, or another process of this device appended); ${n} entr${n === 1 ? 'y is' : 'ies are'} ` +
              `re-signed at positions ${end.authorSeq + 1}–${end.authorSeq + n}, after the server's end`,
          );
          continue;
        }
      }
      const previous = state.held[stream];
      const held = {
        ...why,
        refusals: (previous?.refusals ?? 0) + 1,
        firstAt: previous?.firstAt ?? t,
        nextAt: t + backoff((previous?.refusals ?? 0) + 1),
        rows: rows.length,
      };
      state.held[stream] = held;
      const final =
        !retryable(why.code) ||
        (t - held.firstAt >= GIVE_UP_AFTER_MS && held.refusals >= GIVE_UP_MIN_REFUSALS);
      if (!final || rows.length === 0) continue;
      // Sent again after a restore: dropped where they are, the chain not moved; the rows behind them go
      // by the rule below.
      const resent = new Set((await kept().catch(() => [])).map((r) => r.id));
      const dropped = rows.filter((r) => resent.has(r.id));
      if (dropped.length > 0) {
        const ids = new Set(dropped.map((r) => r.id));
        remaining = remaining.filter((d) => !ids.has(d.id));
        state.maybeStored = state.maybeStored.filter((id) => !ids.has(id));
        rows = rows.filter((r) => !ids.has(r.id));
        const seqs = dropped.map((r) => r.audit?.authorSeq ?? 0);
        core.issue(
          `AUDIT_RESENT_DROPPED: ${dropped.length} audit entr${dropped.length === 1 ? 'y' : 'ies'} for ` +
            `${patientOf(stream)} acknowledged before a restore of the server and sent again ` +
            `(positions ${Math.min(...seqs)}–${Math.max(...seqs)}) refused since ${core.iso(held.firstAt)} ` +
            `(${why.code}); not sent again: those the restore lost stay a gap in the log`,
        );
        if (rows.length === 0) {
          delete state.held[stream];
          continue;
        }
        held.rows = rows.length;
      }
      if (!unchecked && (await rewritable(core, stream, rows, state, kept))) {
        const first = rows[0]!.audit!;
        remaining = remaining.filter((d) => d.stream !== stream);
        delete state.held[stream];
        rewinds.push({ patientId: patientOf(stream), seq: first.authorSeq - 1, hash: first.prevHash });
        core.issue(
          `AUDIT_GIVEN_UP: ${rows.length} audit entr${rows.length === 1 ? 'y' : 'ies'} for ${patientOf(stream)} ` +
            `(positions ${first.authorSeq}–${first.authorSeq + rows.length - 1}) refused since ` +
            `${core.iso(held.firstAt)} (${why.code}) and not in the log; its chain continues from position ` +
            `${first.authorSeq - 1}`,
        );
      } else {
        core.issue(
          `AUDIT_HELD: audit entries for ${patientOf(stream)} are refused (${why.code}) but ` +
            (unchecked
              ? "could not be continued after the server's end now (the account is locked, or the log " +
                'could not be read)'
              : 'may be stored already or are linked to') +
            '; kept and retried',
        );
      }
    }
    await meta.set(OUTBOX_STATE, state);
  }
  await meta.set(OUTBOX, remaining);
  const ownAcked = outbox
    .filter((d) => d.stream === core.ownStream && acked.has(d.id))
    .reduce((n, d) => Math.max(n, d.audit?.authorSeq ?? 0), 0);
  if (ownAcked > 0) {
    await meta
      .update(OWN_ACKED, OwnAcked, (current) => {
        const incarnation = core.served ?? current?.incarnation;
        return {
          seq: Math.max(current?.seq ?? 0, ownAcked),
          ...(incarnation === undefined ? {} : { incarnation }),
        };
      })
      .catch(() => null);
  }
  await keepAcknowledged(
    s,
    outbox.filter((d) => d.stream !== core.ownStream && acked.has(d.id)),
    remaining,
  );
  for (const r of rewinds) {
    await meta.update(chainKey(core, r.patientId), AUDIT_STATE.auditChain, () => ({
      seq: r.seq,
      hash: r.hash,
    }));
  }
  return { continued, outbox: remaining };
};

/** Position the server acknowledged of this device's chain for `patientId` (0: none known). */
export const acknowledgedPosition = (core: Core, patientId: string): Promise<number> =>
  core.serial(async () => {
    const chain = await core.deps.meta.get(chainKey(core, patientId), AUDIT_STATE.auditChain);
    if (!chain) return 0;
    const pending = (await outboxNow(core.deps.meta))
      .filter((d) => d.stream === `${patientId}/audit` && d.audit !== undefined)
      .map((d) => d.audit!.authorSeq);
    return pending.length > 0 ? Math.min(...pending) - 1 : chain.seq;
  });

/** Chains held back after a refusal: their entries are not in the patient's log yet. */
export const undelivered = async (s: Outbox): Promise<UndeliveredChain[]> => {
  const { core } = s;
  const outbox = await outboxNow(core.deps.meta);
  const state = await core.deps.meta.get(OUTBOX_STATE, OutboxState);
  if (!state) return [];
  const maybe = new Set(state.maybeStored);
  const out: UndeliveredChain[] = [];
  for (const [stream, h] of Object.entries(state.held)) {
    const rows = outbox.filter((d) => d.stream === stream);
    // Sent again after a restore: acknowledged before, so perhaps stored (never given up either).
    const kept = new Set((await keptOf(s, patientOf(stream)).catch(() => null))?.rows.map((r) => r.id));
    out.push({
      patientId: patientOf(stream),
      entries: rows.length,
      code: h.code,
      message: h.message,
      refusals: h.refusals,
      since: core.iso(h.firstAt),
      nextAttemptAt: core.iso(h.nextAt),
      maybeStored: rows.some((d) => maybe.has(d.id) || kept.has(d.id)),
    });
  }
  return out;
};
