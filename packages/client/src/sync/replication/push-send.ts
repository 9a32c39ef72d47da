/**
 * Sending a push: rows sealed (or taken as stored), packed into frames, sent, answered.
 *
 * Invariants:
 * - A push goes out in frames within MAX_BATCH_DOCS and MAX_BATCH_BYTES (ciphertext bytes counted as the
 *   server counts them, `docBytes`). A sealed version over MAX_DOC_BYTES is never sent: refused TOO_LARGE.
 * - A frame the server refuses as a whole for what it carries (TOO_LARGE, BAD_MESSAGE) is split in halves
 *   and sent again, down to the single row that causes it, which is answered refused (kept unsent by the
 *   caller); the rest of the batch proceeds, so no version holds up later ones.
 * - Each frame's versions are registered as sent (`sent`) and noted in a slot (`noteUnanswered`) beside
 *   the send; the answer is awaited with the note.
 * - Any other failure (network, timeout, a busy server, a reply that breaks the protocol) rejects once
 *   every frame settled: the batch fails and RxDB retries it (the server answers a version it holds as
 *   stored: same tag).
 * - Seal once: a row stored sealed under the write epoch goes out as stored; one stored under an earlier
 *   epoch is sealed again and, once the server stored it, stored anew locally (resealed-at-rest.ts).
 * - The versions of one user action (`groupOf`, write-groups.ts) go out together in one frame under one
 *   `group`, which the server stores all or none: never split by the
 *   limits or by halving; one of them too large, or a frame of that group alone refused for what it
 *   carries, refuses all of them.
 * - A batch goes out in as few frames as the limits allow (RxDB's batch of 500 ≈1 KB records: one frame):
 *   one commit, one answer and one live page per batch on the server. (Frames of 100 sealed on the
 *   offload while the server stored the previous one cost five of each per batch, more than the overlap
 *   saved.)
 */
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_DOCS,
  MAX_DOC_BYTES,
  docBytes,
  parseRevTag,
  type PushDoc,
  type PushedFrame,
  type PushRow,
} from '@hale/protocol';
import { SyncError } from '../connection';
import { encodeRecords, tagOf, type EncodeInput } from '../record-codec';
import type { PlainRecord } from '../../records/plain-record';
import type { EngineCore } from '../engine-core';
import type { PushInput } from '../types';
import { storeResealedAtRest } from './resealed-at-rest';

/** A push frame the server answered: its rows, the index in the caller's rows of each, the reply. */
export interface SentFrame {
  out: PushRow[];
  byIndex: number[];
  reply: PushedFrame;
}
/** A row the server refused alone as a whole frame (see `sendFrame`). */
export interface FrameRefusal {
  i: number;
  doc: PushDoc;
  code: string;
  message: string;
}

export const createPushSend = (core: EngineCore) => {
  const { deps } = core;
  const { connection, keyring } = deps;

  /**
   * Revision tag of an assumed master state. One received from the server is tagged under its `epoch`.
   * One this device pushed keeps the epoch of the version it was based on, but was tagged under the
   * epoch it was sealed under: its tag is the one this device sent, while remembered (`sent`). Otherwise
   * (e.g. after a restart, with the stream re-keyed since) the server answers a conflict whose version
   * is this very state, and the push is sent again against the server's tag (`sameVersion`).
   */
  const assumedTag = async (assumed: PlainRecord): Promise<string | null> => {
    const pushed = core.sent.get(assumed.id);
    if (pushed !== undefined && parseRevTag(pushed)?.n === assumed.rv) return pushed;
    return tagOf(keyring, assumed);
  };

  /**
   * Sends one push frame, split down to single rows (a group's rows staying together) when refused as a
   * whole for what it carries.
   */
  const sendFrame = async (
    out: PushRow[],
    byIndex: number[],
    refused: FrameRefusal[],
  ): Promise<SentFrame[]> => {
    try {
      return [{ out, byIndex, reply: await connection.request<PushedFrame>({ t: 'push', rows: out }) }];
    } catch (error) {
      // `retry` marks the server's own error reply (a reply that breaks the protocol is not retryable).
      const content =
        error instanceof SyncError &&
        error.retry &&
        (error.code === 'TOO_LARGE' || error.code === 'BAD_MESSAGE');
      if (!content) throw error;
      const grouped = out[0]!.group !== undefined && out.every((r) => r.group === out[0]!.group);
      if (out.length === 1 || grouped) {
        for (const [k, row] of out.entries()) {
          refused.push({
            i: byIndex[k]!,
            doc: row.doc,
            code: error.code,
            message: `The server refused ${out.length === 1 ? 'a record' : 'a change of several records'}: ${error.message}`,
          });
        }
        return [];
      }
      // Halved at a group's edge (the one nearest the middle), so no group is split.
      let half = Math.ceil(out.length / 2);
      while (
        half < out.length &&
        half > 0 &&
        out[half]!.group !== undefined &&
        out[half]!.group === out[half - 1]!.group
      )
        half++;
      if (half === out.length) {
        half = Math.ceil(out.length / 2);
        while (half > 0 && out[half]!.group !== undefined && out[half]!.group === out[half - 1]!.group)
          half--;
      }
      const first = await sendFrame(out.slice(0, half), byIndex.slice(0, half), refused);
      return [...first, ...(await sendFrame(out.slice(half), byIndex.slice(half), refused))];
    }
  };

  /**
   * Seals `toSeal` (the rows `candidates` of `rows`, in order) and sends them in frames. Rows too large
   * are passed to `refuse`; rows refused alone as a frame come back in `frameRefused`. Answers the
   * frames sent, or null when nothing was sent; rejects when a frame failed (after all settled).
   */
  const sendRows = async (
    rows: PushInput,
    toSeal: readonly EncodeInput[],
    candidates: readonly number[],
    assumedRevOf: (i: number) => Promise<string | null>,
    refuse: (i: number, code: string, message: string) => void,
    /** The group of row `i`'s version, when one user action wrote it with others (write-groups.ts). */
    groupOf: (i: number) => string | undefined = () => undefined,
  ): Promise<{ replies: SentFrame[]; frameRefused: FrameRefusal[] } | null> => {
    const frameRefused: FrameRefusal[] = [];
    const sends: Array<Promise<{ sent: SentFrame[] } | { error: unknown }>> = [];
    let out: PushRow[] = [];
    let byIndex: number[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (out.length === 0) return;
      for (const row of out) core.sent.set(row.doc.id, row.doc.rev);
      // Noted beside the send, not before it (see the header); a note that fails only leaves such a
      // version a conflict after a restart, as before the slots existed.
      const noted = core.sent.noteUnanswered(out).catch(() => undefined);
      sends.push(
        Promise.all([noted, sendFrame(out, byIndex, frameRefused)]).then(
          ([, frames]) => ({ sent: frames }),
          (error: unknown) => ({ error }),
        ),
      );
      out = [];
      byIndex = [];
      bytes = 0;
    };
    // Seal once: a version stored as sealed under the write epoch goes out as stored (no seal, tag or
    // signature here); any other is sealed now, as before. One stored under another epoch (re-keyed
    // before its push) is sealed again: once stored, its row is stored anew locally (`resealed`).
    const resealed = new Set<number>();
    const stored = toSeal.map(({ record, write }, n) => {
      const doc = deps.storedVersions?.storedFor(record) ?? null;
      if (doc === null) return null;
      if (doc.epoch === write.epoch) return doc;
      resealed.add(candidates[n]!);
      return null;
    });
    const sealed = await encodeRecords(
      core.codec,
      toSeal.filter((_, n) => stored[n] === null),
    );
    let next = 0;
    const encoded = stored.map((doc) => doc ?? sealed[next++] ?? null);
    // Each group's rows together, where its first row is; a group of one row goes as any row.
    const members = new Map<string, number[]>();
    for (const [n, doc] of encoded.entries()) {
      const group = doc ? groupOf(candidates[n]!) : undefined;
      if (group !== undefined) members.set(group, [...(members.get(group) ?? []), n]);
    }
    const units: number[][] = [];
    const placed = new Set<number>();
    for (const n of encoded.keys()) {
      if (placed.has(n) || !encoded[n]) continue;
      const group = groupOf(candidates[n]!);
      const unit = group === undefined ? [n] : members.get(group)!;
      for (const m of unit) placed.add(m);
      units.push(unit);
    }
    for (const unit of units) {
      const sizes = unit.map((n) => docBytes(encoded[n]!));
      const tooLarge = unit.findIndex((_, u) => sizes[u]! > MAX_DOC_BYTES);
      if (tooLarge >= 0) {
        for (const [u, n] of unit.entries()) {
          const i = candidates[n]!;
          const kind = rows[i]!.newDocumentState.kind;
          refuse(
            i,
            u === tooLarge ? 'TOO_LARGE' : 'GROUP_REFUSED',
            u === tooLarge
              ? `A ${kind} record is too large to sync (${sizes[u]} bytes sealed, at most ${MAX_DOC_BYTES})`
              : `Another record of the same change (${rows[candidates[unit[tooLarge]!]!]!.newDocumentState.id}) is too large to sync; none of it is sent`,
          );
        }
        continue;
      }
      const unitBytes = sizes.reduce((a, b) => a + b, 0);
      if (out.length + unit.length > MAX_BATCH_DOCS || bytes + unitBytes > MAX_BATCH_BYTES) flush();
      const group = unit.length > 1 ? groupOf(candidates[unit[0]!]!) : undefined;
      for (const n of unit) {
        const i = candidates[n]!;
        const doc = encoded[n]!;
        out.push({ doc, assumedRev: await assumedRevOf(i), ...(group === undefined ? {} : { group }) });
        byIndex.push(i);
      }
      bytes += unitBytes;
    }
    flush();
    if (sends.length === 0) return null;
    const settled = await Promise.all(sends);
    await storeResealedAtRest(
      deps.collection,
      settled
        .flatMap((r) => ('error' in r ? [] : r.sent))
        .flatMap(({ byIndex, reply }) =>
          reply.results.flatMap((result, k) =>
            result.status === 'ok' && resealed.has(byIndex[k]!) ? [rows[byIndex[k]!]!.newDocumentState] : [],
          ),
        ),
      deps.now,
    ).catch(() => undefined);
    const replies = settled.flatMap((r) => {
      if ('error' in r) throw r.error;
      return r.sent;
    });
    return { replies, frameRefused };
  };

  return { assumedTag, sendRows };
};
export type PushSend = ReturnType<typeof createPushSend>;
