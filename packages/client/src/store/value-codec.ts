/**
 * Seals and opens the encrypted fields of one storage instance, in this thread or through an offload.
 *
 * - Each seal binds db, collection, document id, field, revision and the clear digest (`boundText`); an open
 *   checks them against the stored document: a value moved or paired with other clear fields is refused.
 * - Values are remembered both ways per slot (value-memory.ts), so RxDB reading back what it just wrote
 *   costs no crypto.
 * - An offload that fails, answers another job, answers malformed, or answers any item with another slot's
 *   binding → AT_REST_ENCRYPT_FAILED for the whole batch, nothing of it remembered (`offloadError`).
 * - A value that is not JSON → AT_REST_ENCRYPT_FAILED; a wrong key, tampered or truncated value, context
 *   mismatch, or missing required field → AT_REST_DECRYPT_FAILED (with `reason`); after dispose →
 *   AT_REST_CLOSED.
 */
import { type CryptoOffload, offloadMinBatch } from '../offload/crypto-offload';
import {
  type SealContext,
  decryptError,
  isRecord,
  AtRestError,
  boundText,
  type AtRestJob,
  seal,
  open,
} from '../offload/at-rest-jobs';
import { checkCryptoJobResult } from '../offload/job-result';
import type { Keyring } from './clear-digest';
import type { ValueMemory, Slot, DocBinding } from './value-memory';
import { META_DOC_FIELD } from './at-rest-schema';
import {
  type CompositeRef,
  COMPOSITE_PREFIX,
  COMPOSITE_SEPARATOR,
  parseComposite,
  compositeRefs,
  assembleComposite,
  envelopeKey,
} from './composites';

/**
 * Seals and opens the encrypted fields of one storage instance. RxDB reads back what it has just
 * written (change events, replication metadata, the previous state of every update), so the instances
 * of a database remember the last `AT_REST_RECENT_VALUES` values both ways:
 * - an envelope produced or opened (the whole string) maps to its plaintext, but only for the same slot
 *   (collection, document, field, revision): a stored string moved anywhere else misses and is opened
 *   (and refused); a changed string misses and is opened (and refused if tampered);
 * - a value object produced or opened maps to its envelope, reused only for the same slot and the same
 *   object (RxDB never mutates stored document data; it clones before changing it); a scalar (`null`)
 *   maps by slot, reused only for the same value.
 * Envelopes of scalars (the `null` conflictData of nearly every record) are remembered apart, so that
 * they never push record content out. This memory holds what RxDB's own document cache already holds in clear.
 * `composites` (replication-meta instances): `docData` may be stored as a composite (see above).
 */
export function createValueCodec(
  keyring: Keyring,
  database: string,
  collection: string,
  offload: CryptoOffload | null,
  memoryOf: () => ValueMemory,
  composites: boolean,
) {
  const contextKey = (s: Slot): string => `${s.c}\u0000${s.i}\u0000${s.f}\u0000${s.r}\u0000${s.h}`;
  const sealContext = (s: Slot): SealContext => ({ db: database, c: s.c, i: s.i, f: s.f, r: s.r, h: s.h });
  const where = (s: Slot) => ({ database, collection: s.c, field: s.f, documentId: s.i });
  const slot = (b: DocBinding, f: string): Slot => ({ c: collection, i: b.i, f, r: b.r, h: b.h });
  const remember = (envelope: string, s: Slot, value: unknown): void => {
    const { opened, openedScalars, sealed, sealedScalars } = memoryOf();
    const context = contextKey(s);
    // Values of a meta instance are never referred to: only a records instance's envelopes are.
    if (typeof value === 'object' && value !== null) {
      opened.set(envelopeKey(envelope), { envelope, context, value });
      sealed.set(value, { context, envelope, slot: s, referable: !composites });
    } else {
      openedScalars.set(envelopeKey(envelope), { envelope, context, value });
      sealedScalars.set(context, { value, envelope });
    }
  };
  const knownAt = (s: Slot, value: unknown): string | undefined => {
    const { sealed, sealedScalars } = memoryOf();
    const context = contextKey(s);
    if (typeof value === 'object' && value !== null) {
      const hit = sealed.get(value);
      return hit !== undefined && hit.context === context ? hit.envelope : undefined;
    }
    const hit = sealedScalars.get(context);
    return hit !== undefined && hit.value === value ? hit.envelope : undefined;
  };
  const rememberedAt = (s: Slot, stored: unknown): { hit: true; value: unknown } | { hit: false } => {
    if (typeof stored !== 'string') return { hit: false };
    const { opened, openedScalars } = memoryOf();
    const key = envelopeKey(stored);
    const hit = opened.get(key) ?? openedScalars.get(key);
    return hit !== undefined && hit.envelope === stored && hit.context === contextKey(s)
      ? { hit: true, value: hit.value }
      : { hit: false };
  };
  const malformedComposite = (s: Slot) =>
    decryptError('MALFORMED', 'stored value is not a valid composite envelope', where(s));
  /**
   * A meta document's value stored plain (no `r1:`) is a whole document copy, never a composite's own
   * plaintext (`{ s, refs }`, sealed under the same binding): one stripped of its prefix and referred
   * envelopes on disk would otherwise open as that skeleton and stand for the replicated document.
   */
  const plainValue = (s: Slot, value: unknown): unknown => {
    if (
      composites &&
      s.f === META_DOC_FIELD &&
      isRecord(value) &&
      's' in value &&
      'refs' in value &&
      Object.keys(value).length === 2
    )
      throw malformedComposite(s);
    return value;
  };

  // Seals and opens requested in one turn of the event loop (one bulkWrite, one query result) go to
  // the offload as one batch per kind.
  type Op = 'seal' | 'open';
  interface Request {
    readonly slot: Slot;
    /** The value to seal, or the stored envelope to open. */
    readonly input: unknown;
  }
  type Pending = { request: Request; resolve: (v: unknown) => void; reject: (e: unknown) => void };
  type Settled = { ok: true; value: unknown } | { ok: false; error: AtRestError };
  const queues: Record<Op, Pending[]> = { seal: [], open: [] };
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    for (const op of ['seal', 'open'] as const) {
      const batch = queues[op];
      queues[op] = [];
      if (batch.length > 0) void runBatch(op, batch);
    }
  };
  const enqueue = (op: Op, request: Request): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      queues[op].push({ request, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    });

  /**
   * `value` when `bound`, the binding the offload says it sealed or opened it with, is the one of the
   * slot it was asked for; throws otherwise, failing the whole batch: a reply crossed with another job's,
   * or outcomes permuted within the batch, would hand one document another's value (and a seal store an
   * envelope that no longer opens once this memory is gone). An envelope sealed before clear digests
   * opens bound without one (see the header).
   */
  const boundTo = <T>(value: T, bound: string, context: SealContext, op: Op, n: number): T => {
    if (bound === boundText(context) || (op === 'open' && bound === boundText({ ...context, h: undefined })))
      return value;
    throw new Error(`crypto offload answered an item for another slot (${op} item ${n})`);
  };

  /** Sends one batch to the offload; answers one outcome per request, in order. */
  const askOffload = async (
    to: CryptoOffload,
    op: Op,
    keyBytes: Uint8Array,
    requests: readonly Request[],
  ): Promise<Settled[]> => {
    const contexts = requests.map((r) => sealContext(r.slot));
    // Each reply crossed a thread boundary: checked against its job before any value is used.
    if (op === 'seal') {
      const job: AtRestJob = {
        op,
        key: keyBytes,
        items: requests.map((r, n) => ({ context: contexts[n]!, value: r.input })),
      };
      const result = checkCryptoJobResult(job, await to.run(job));
      return result.envelopes.map((sealed, n): Settled =>
        sealed !== null
          ? { ok: true, value: boundTo(sealed.envelope, sealed.bound, contexts[n]!, op, n) }
          : {
              ok: false,
              error: new AtRestError('AT_REST_ENCRYPT_FAILED', 'value is not JSON', {
                ...where(requests[n]!.slot),
                reason: 'NOT_JSON',
              }),
            },
      );
    }
    const job: AtRestJob = {
      op,
      key: keyBytes,
      items: requests.map((r, n) => ({ context: contexts[n]!, stored: r.input })),
    };
    const result = checkCryptoJobResult(job, await to.run(job));
    return result.values.map((o, n): Settled =>
      o.ok
        ? { ok: true, value: boundTo(o.value, o.bound, contexts[n]!, op, n) }
        : {
            ok: false,
            error: new AtRestError('AT_REST_DECRYPT_FAILED', o.message, {
              ...where(requests[n]!.slot),
              reason: o.reason,
            }),
          },
    );
  };

  // Each value is looked up in the memory once, before it is queued or done (`known`, `remembered` and
  // `open` for a field; `openAt` and `openNow` for the parts of a composite): these two do the work
  // without looking again (a value asked twice in one batch is done twice, as on an offload).
  const sealHere = (s: Slot, value: unknown): string => {
    const envelope = seal(keyring.current(), sealContext(s), value);
    remember(envelope, s, value);
    return envelope;
  };
  const openHere = (s: Slot, stored: unknown): unknown => {
    const value = open(keyring.current(), sealContext(s), stored, where(s));
    if (typeof stored === 'string') remember(stored, s, value);
    return value;
  };

  const runBatch = async (op: Op, batch: readonly Pending[]): Promise<void> => {
    let key: Uint8Array | null;
    try {
      key = keyring.current();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    if (key === null || offload === null || batch.length < offloadMinBatch(offload)) {
      for (const { request: r, resolve, reject } of batch) {
        try {
          resolve(op === 'seal' ? sealHere(r.slot, r.input) : openHere(r.slot, r.input));
        } catch (error) {
          reject(error);
        }
      }
      return;
    }
    let settled: Settled[];
    try {
      settled = await askOffload(
        offload,
        op,
        key,
        batch.map((p) => p.request),
      );
    } catch (error) {
      for (const p of batch) p.reject(offloadError(error, collection));
      return;
    }
    // Closed while the batch was away: its values must not be remembered, nor handed out.
    try {
      keyring.current();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach(({ request: r, resolve, reject }, n) => {
      const outcome = settled[n]!;
      if (!outcome.ok) return reject(outcome.error);
      if (op === 'seal') remember(outcome.value as string, r.slot, r.input);
      else if (typeof r.input === 'string') remember(r.input, r.slot, outcome.value);
      resolve(outcome.value);
    });
  };

  /** Seals in the next batch (callers have looked the value up already). */
  const sealAt = (s: Slot, value: unknown): Promise<string> =>
    enqueue('seal', { slot: s, input: value }) as Promise<string>;
  /** Opens from memory, else in the next batch. */
  const openAt = (s: Slot, stored: unknown): Promise<unknown> => {
    const hit = rememberedAt(s, stored);
    return hit.hit ? Promise.resolve(hit.value) : enqueue('open', { slot: s, input: stored });
  };
  /** Opens from memory, else here. */
  const openNow = (s: Slot, stored: unknown): unknown => {
    const hit = rememberedAt(s, stored);
    return hit.hit ? hit.value : openHere(s, stored);
  };

  /** The members of a meta `docData` that can refer to a records instance's envelope of the same document. */
  const referable = (itemId: string, value: unknown) => {
    if (!composites || !isRecord(value)) return [];
    const out: Array<{ member: string; envelope: string; slot: Slot }> = [];
    for (const member of Object.keys(value)) {
      const v = value[member];
      if (typeof v !== 'object' || v === null) continue;
      const hit = memoryOf().sealed.get(v);
      if (hit !== undefined && hit.referable && hit.slot.i === itemId) {
        out.push({ member, envelope: hit.envelope, slot: hit.slot });
      }
    }
    return out;
  };
  const compositeSeal = async (
    s: Slot,
    itemId: string,
    value: Record<string, unknown>,
  ): Promise<string | null> => {
    const refs = referable(itemId, value);
    if (refs.length === 0) return null;
    const skeleton = { ...value };
    for (const { member } of refs) skeleton[member] = null;
    const own = await sealAt(s, {
      s: skeleton,
      refs: refs.map((r): CompositeRef => [
        r.member,
        r.slot.c,
        r.slot.f,
        r.slot.r,
        envelopeKey(r.envelope),
        r.slot.h,
      ]),
    });
    const stored = COMPOSITE_PREFIX + own + refs.map((r) => COMPOSITE_SEPARATOR + r.envelope).join('');
    remember(stored, s, value);
    return stored;
  };
  const referredSlot = (itemId: string, [, c, f, r, , h]: CompositeRef): Slot => ({ c, i: itemId, f, r, h });
  /**
   * Opening the composite `stored` of slot `s` (not remembered), in the same steps whichever opener
   * runs them: open `own` at `s`; `refer` checks its plaintext and names the referred envelopes with
   * the slot each opens at; `assemble` builds the value from them, in order, and remembers it.
   */
  const compositeOpening = (s: Slot, stored: string, itemId: string | undefined) => {
    if (!composites || itemId === undefined) throw malformedComposite(s);
    const { own, referred } = parseComposite(stored);
    const refer = (ownPlaintext: unknown) => {
      const checked = compositeRefs(ownPlaintext, referred);
      if (checked === null) throw malformedComposite(s);
      const { skeleton, refs } = checked;
      return {
        parts: refs.map((ref, n) => ({ slot: referredSlot(itemId, ref), stored: referred[n] })),
        assemble: (values: readonly unknown[]): unknown => {
          const value = assembleComposite(skeleton, refs, values);
          remember(stored, s, value);
          return value;
        },
      };
    };
    return { own, refer };
  };
  const isComposite = (stored: unknown): stored is string =>
    typeof stored === 'string' && stored.startsWith(COMPOSITE_PREFIX);

  return {
    /** The stored form of `value` if already known for this slot (no sealing needed). */
    known: (b: DocBinding, field: string, value: unknown): string | undefined =>
      knownAt(slot(b, field), value),
    /** The value of `stored` if already known for this slot (no opening needed). */
    remembered: (b: DocBinding, field: string, stored: unknown) => {
      const s = slot(b, field);
      const hit = rememberedAt(s, stored);
      return hit.hit && !isComposite(stored) ? { hit: true as const, value: plainValue(s, hit.value) } : hit;
    },
    /**
     * Seals on the offload (batched) or here, once `known` has missed. `itemId` (meta instances): the
     * replicated document this meta document describes, whose envelopes `value` may refer to.
     */
    async sealLater(b: DocBinding, field: string, value: unknown, itemId?: string): Promise<string> {
      const s = slot(b, field);
      if (itemId !== undefined && isRecord(value)) {
        const composite = await compositeSeal(s, itemId, value);
        if (composite !== null) return composite;
      }
      return sealAt(s, value);
    },
    /** Opens on the offload (batched) or here, once `remembered` has missed. */
    async openLater(b: DocBinding, field: string, stored: unknown, itemId?: string): Promise<unknown> {
      const s = slot(b, field);
      if (!isComposite(stored)) return plainValue(s, await enqueue('open', { slot: s, input: stored }));
      const { own, refer } = compositeOpening(s, stored, itemId);
      const { parts, assemble } = refer(await openAt(s, own));
      return assemble(await Promise.all(parts.map((p) => openAt(p.slot, p.stored))));
    },
    /** Opens from memory, else here, synchronously (change events). */
    open(b: DocBinding, field: string, stored: unknown, itemId?: string): unknown {
      const s = slot(b, field);
      const hit = rememberedAt(s, stored);
      if (hit.hit) return isComposite(stored) ? hit.value : plainValue(s, hit.value);
      if (!isComposite(stored)) return plainValue(s, openHere(s, stored));
      const { own, refer } = compositeOpening(s, stored, itemId);
      const { parts, assemble } = refer(openNow(s, own));
      return assemble(parts.map((p) => openNow(p.slot, p.stored)));
    },
  };
}

function offloadError(error: unknown, collection: string): AtRestError {
  return new AtRestError('AT_REST_ENCRYPT_FAILED', `at-rest offload failed: ${String(error)}`, {
    collection,
  });
}
