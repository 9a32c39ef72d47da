/**
 * Signed stream heads, wired (docs/architecture.md, "Signed stream heads"): a patient device signs and puts
 * a statement of each own stream it is caught up on; every device checks, per readable stream, the newest
 * statement the server keeps against its own copy. The engine calls `settled` whenever it is caught up.
 *
 * | when                                   | what                                                           |
 * | -------------------------------------- | -------------------------------------------------------------- |
 * | settled, own stream checked and whole  | sign + putHead, at most once per `signEveryMs` (a timer waits)  |
| putHead refused or failed              | signed anew from `current()` after `retryMs`                    |
 * | settled, stream not checked this link  | getHead (all pages) → verify signer → leaves → own copy          |
 * | settled, stream with open HEAD_ issues | checked again once its seq moved or a record of it was stored  |
 * | settled while its check waits or runs  | weighed again as that check ends (a store it did not see counts) |
 * | a copy with a local write unacknowledged | neither signed nor judged: what the server holds of it is unknown |
 * | a statement past the seq pulled to now | judged once caught up to it, or if a later link's catch-up falls short of it |
 * | a finding                              | said only if the copy, read again once live work is done, still shows it |
 * | a check that could not judge           | due again at the next settle (signer not looked up, statement changing) |
 * | checks due                             | queued, oldest first; at most `checksAtOnce` (4) run at a time  |
 * | a check's turn                         | waits for `yieldTo` first: live changes and pulls go before it  |
 *
 * Invariants: a statement is taken only if its signer is a device the patient certified and had not revoked
 * at its `at` (`lookupDeviceKey`, as record authorship) and its signature verifies; its leaves must hash to
 * its root (a page sequence that changes statement midway is fetched again). The highest verified seq per
 * stream is kept (`seen`); a lower statement is refused and reported. Findings become issues
 * (HEAD_WITHHELD, HEAD_ROLLED_BACK, headIssue's words); those of a stream no longer found are cleared.
 * Failure modes: every wire or lookup failure is swallowed (tried again at the next `settled`); a putHead
 * refused HEAD_NOT_CURRENT / HEAD_MISMATCH waits for the next settle past another seq. A statement that
 * cannot be taken (unknown or revoked signer, bad signature, leaves not its root) is reported HEAD_REFUSED.
 */
import type { Ed25519 } from '@hale/crypto';
import { Type } from '@sinclair/typebox';
import { coalescedSave } from '../core/coalesced-save';
import { slices } from '../core/slices';
import type { DeviceKeyLookup } from './device-directory';
import {
  checkAgainstHead,
  headIssue,
  signStreamHead,
  verifyStreamHead,
  type HeadLeaf,
  type SignedStreamHead,
} from './stream-head';
import { createWriteScan, writtenSince, type VerifiedStore, type WritesSince } from './head-verified';

/** A record of the device's copy as the server's: its version, and its revision tag (a hint it may match). */
export interface HeldCopy {
  readonly rv: number;
  readonly deleted: boolean;
  /** A local write of it is not yet the server's: neither signed nor checked (no finding names it). */
  readonly unsettled?: true;
  /** The hex tag of this version: `hint` when the content reproduces it under one of its keys. */
  tag(hint?: string): Promise<string | null>;
}

export interface HeadPageAnswer {
  readonly signed?: SignedStreamHead;
  readonly leaves: readonly HeadLeaf[];
  readonly next?: string;
}

export interface HeadIssue {
  code: string;
  message: string;
  stream: string;
  id?: string;
}

export interface HeadSyncDeps {
  readonly ed: Ed25519;
  readonly accountId: string;
  readonly device: { readonly deviceId: string; readonly secretKey: Uint8Array };
  readonly now: () => number;
  /** Whether the connection is ready now. */
  readonly wireReady: () => boolean;
  putHead(signed: SignedStreamHead): Promise<void>;
  /** One page of the kept statement's leaves after `after` (at most `limit`; the server's page else). */
  getHead(stream: string, after?: string, limit?: number): Promise<HeadPageAnswer>;
  lookupDeviceKey(accountId: string, deviceId: string): Promise<DeviceKeyLookup>;
  /** The device's copy of `stream`, by id (records whose local copy is not the server's left out). */
  held(stream: string): Promise<ReadonlyMap<string, HeldCopy>>;
  report(issue: HeadIssue): void;
  /** Drops the HEAD_* issues of `stream` that `keep` does not pick. */
  clear(stream: string, keep: (issue: { code: string; id?: string }) => boolean): void;
  /** Highest statement seq verified per stream (persisted by the caller). */
  readonly seen: { get(stream: string): number; set(stream: string, seq: number): void };
  /** Timer for a coalesced signature; answers a cancel. */
  schedule(ms: number, run: () => void): () => void;
  readonly signEveryMs?: number;
  /**
   * The readable streams and the seq pulled to now, with the tag hints of own writes: read again when a
   * refused statement is signed anew (`retryMs` later, default 2 s; the seq may have moved meanwhile).
   */
  readonly current?: () => {
    streams: ReadonlyArray<{ stream: string; seq: number }>;
    hints: (id: string) => string | undefined;
  };
  readonly retryMs?: number;
  /** Stream checks running at once (default 4). */
  readonly checksAtOnce?: number;
  /**
   * Streams verified whole (head-verified.ts), with the store's writes: one served the same statement
   * again and not written since is not read nor tagged again. Both or neither.
   */
  readonly verified?: VerifiedStore;
  readonly writes?: WritesSince;
  /**
   * Awaited before each check starts: resolves once live work (a change frame being stored, a pull) is
   * done, or after the caller's own bound. Checks are background work; every one still runs.
   */
  readonly yieldTo?: () => Promise<void>;
}

/** Device meta `head-seen`: the highest statement seq this device verified, per stream. */
export const HEAD_SEEN_SCHEMA = Type.Record(Type.String(), Type.Integer({ minimum: 0 }));
const HEAD_SEEN_KEY = 'head-seen';

/**
 * `HeadSyncDeps.seen` kept in device meta: the whole map is written at most once per burst of raises (a
 * check of every stream after a connection raises one per stream; a write each was O(N²) bytes and one
 * IndexedDB transaction per stream), a macrotask after the first; `flush` writes a raise still waiting.
 * A failed write is tried again at the next raise or flush.
 */
export const headSeenStore = (meta: {
  get(key: string, schema: typeof HEAD_SEEN_SCHEMA): Promise<Record<string, number> | null>;
  set(key: string, value: unknown): Promise<void>;
}) => {
  let seen: Record<string, number> = {};
  const save = coalescedSave(() => meta.set(HEAD_SEEN_KEY, { ...seen }));
  return {
    async load(): Promise<void> {
      seen = { ...((await meta.get(HEAD_SEEN_KEY, HEAD_SEEN_SCHEMA)) ?? {}) };
    },
    get: (stream: string): number => seen[stream] ?? 0,
    set(stream: string, seq: number): void {
      seen[stream] = seq;
      save.soon();
    },
    async flush(): Promise<void> {
      if (save.cancel()) await save.save().catch(() => undefined);
      await save.settled();
    },
  };
};

const SIGN_EVERY_MS = 60_000;
const RETRY_MS = 2_000;
const MAX_PAGE_RESTARTS = 3;
/** Stream checks running at once: the rest wait their turn, so a live frame's write never queues behind thousands. */
const CHECKS_AT_ONCE = 4;
const HEAD_CODES = new Set(['HEAD_WITHHELD', 'HEAD_ROLLED_BACK', 'HEAD_REFUSED']);
/** A check that could not judge (signer not looked up, statement changing under it): due at the next settle. */
const UNDECIDED = 'undecided';

const patientOf = (stream: string): string => stream.slice(0, stream.indexOf('/'));

const isBefore = (a: string, b: string): boolean => Date.parse(a) < Date.parse(b);

export const createHeadSync = (deps: HeadSyncDeps) => {
  const every = deps.signEveryMs ?? SIGN_EVERY_MS;
  const checksAtOnce = deps.checksAtOnce ?? CHECKS_AT_ONCE;
  const signedAt = new Map<string, { seq: number; at: number }>();
  const timers = new Map<string, () => void>();
  /** Leaves of the last statement signed or checked per stream: tag hints for records unchanged since. */
  const lastLeaves = new Map<string, Map<string, HeadLeaf>>();
  /**
   * Per stream: the link and seq it was checked at, the count of records stored into it by then, and
   * whether issues remain.
   */
  const checked = new Map<
    string,
    { link: number; seq: number; stores: number; open: boolean; undecided: boolean }
  >();
  /** Records stored per stream (`stored`): the seq moves before a served record is stored. */
  const stores = new Map<string, number>();
  const busy = new Set<string>();
  const verified = deps.writes === undefined ? undefined : deps.verified;
  const scanWrites = createWriteScan(deps.writes ?? (() => Promise.reject(new Error('no writes'))), () =>
    verified === undefined ? null : verified.oldest(),
  );
  let link = 0;
  /**
   * Streams whose newest statement is past the seq this device pulled to, with the link it was first seen
   * on and its seq: judged once caught up to it, or when a later link's catch-up still falls short of that
   * seq (a newer statement than that one is ahead anew: its changes may still be on the way).
   */
  const ahead = new Map<string, { link: number; seq: number }>();
  let stopped = false;

  const hintOf = (stream: string, id: string, rv: number): string | undefined => {
    const leaf = lastLeaves.get(stream)?.get(id);
    return leaf !== undefined && leaf.rv === rv ? leaf.tag : undefined;
  };

  const sign = async (stream: string, seq: number, hints: (id: string) => string | undefined) => {
    const held = await deps.held(stream);
    const leaves: HeadLeaf[] = [];
    const between = slices();
    for (const [id, copy] of held) {
      if (copy.unsettled === true) continue;
      await between();
      const tag = await copy.tag(hints(id) ?? hintOf(stream, id, copy.rv));
      if (tag === null) return;
      leaves.push({ id, rv: copy.rv, deleted: copy.deleted, tag });
    }
    const signedNow = deps.now();
    const at = new Date(signedNow).toISOString();
    const signed = await signStreamHead(
      deps.ed,
      deps.device.secretKey,
      { stream, seq, at, device: deps.device.deviceId },
      leaves,
    );
    await deps.putHead(signed);
    signedAt.set(stream, { seq, at: signedNow });
    lastLeaves.set(stream, new Map(leaves.map((l) => [l.id, l])));
    if (seq > deps.seen.get(stream)) deps.seen.set(stream, seq);
  };

  const maybeSign = (stream: string, seq: number, hints: (id: string) => string | undefined): void => {
    const last = signedAt.get(stream);
    if (last !== undefined && last.seq >= seq) return;
    if (timers.has(stream) || busy.has(`sign ${stream}`)) return;
    const wait = last === undefined ? 0 : Math.max(0, last.at + every - deps.now());
    const run = (): void => {
      timers.delete(stream);
      if (stopped || !deps.wireReady()) return;
      busy.add(`sign ${stream}`);
      sign(stream, seq, hints)
        .catch(() => retry(stream))
        .finally(() => busy.delete(`sign ${stream}`));
    };
    if (wait === 0) run();
    else timers.set(stream, deps.schedule(wait, run));
  };

  /** A statement refused (not current, not the server's rows yet): signed anew from the state then. */
  const retry = (stream: string): void => {
    const current = deps.current;
    if (stopped || current === undefined || timers.has(stream)) return;
    timers.set(
      stream,
      deps.schedule(deps.retryMs ?? RETRY_MS, () => {
        timers.delete(stream);
        const now = current();
        if (!stopped) settled(now.streams, now.hints);
      }),
    );
  };

  /** The kept statement and all its leaves (from `first`, its first page), one statement throughout. */
  const fetchHead = async (
    stream: string,
    first: HeadPageAnswer,
  ): Promise<{ signed: SignedStreamHead; leaves: HeadLeaf[] } | null> => {
    let page = first;
    for (let attempt = 0; attempt < MAX_PAGE_RESTARTS; attempt++) {
      if (attempt > 0) page = await deps.getHead(stream);
      if (page.signed === undefined) return null;
      const signed = page.signed;
      const leaves = [...page.leaves];
      let same = true;
      while (page.next !== undefined) {
        page = await deps.getHead(stream, page.next);
        if (page.signed?.sig !== signed.sig) {
          same = false;
          break;
        }
        leaves.push(...page.leaves);
      }
      if (same) return { signed, leaves };
    }
    return null;
  };

  const refuse = (stream: string, message: string): void =>
    deps.report({ code: 'HEAD_REFUSED', stream, message: `${message}; tell the server's operator` });

  /** Whether `signed` is taken: signed by a device of the patient not revoked at its `at`; refused else. */
  const signerOf = async (
    stream: string,
    signed: SignedStreamHead,
  ): Promise<'ok' | 'refused' | 'unavailable'> => {
    const { head } = signed;
    const signer = await deps.lookupDeviceKey(patientOf(stream), head.device);
    if (signer.status === 'unavailable') return 'unavailable';
    if (
      signer.status === 'unknown' ||
      (signer.revokedAt !== undefined && !isBefore(head.at, signer.revokedAt)) ||
      !(await verifyStreamHead(deps.ed, signer.key, signed))
    ) {
      refuse(stream, `the statement of ${stream} the server serves is not signed by a device of its patient`);
      return 'refused';
    }
    return 'ok';
  };

  /** A verified statement at `seq` is kept by the server: no need to sign one at that seq. */
  const noteKept = (stream: string, head: SignedStreamHead['head']): void => {
    const last = signedAt.get(stream);
    if (last === undefined || last.seq < head.seq)
      signedAt.set(stream, { seq: head.seq, at: Date.parse(head.at) });
  };

  /** What a check found: issues open, the copy whole, or nothing known (checked again at the next settle). */
  const check = async (stream: string): Promise<boolean | typeof UNDECIDED> => {
    // One leaf first: a stream remembered whole needs the statement only.
    const first = await deps.getHead(stream, undefined, verified?.get(stream) === undefined ? undefined : 1);
    if (first.signed === undefined) return false;
    const seen = deps.seen.get(stream);
    const older = (seq: number): boolean => {
      if (seq >= seen) return false;
      refuse(
        stream,
        `the server serves an older statement of ${stream} (seq ${seq}) than one this device verified (seq ${seen})`,
      );
      return true;
    };
    if (older(first.signed.head.seq)) return true;
    const signerFirst = await signerOf(stream, first.signed);
    if (signerFirst !== 'ok') return signerFirst === 'refused' || UNDECIDED;
    // The statement verified whole last time, and a copy not written since: the same result.
    const kept = verified?.get(stream);
    if (kept !== undefined && kept.sig === first.signed.sig && verified !== undefined) {
      const scanAt = verified.now();
      const scan = await scanWrites();
      if (scan !== null && !writtenSince(scan, stream, kept.lwt)) {
        // Not written up to the scan: the mark moves on, so later scans start later.
        verified.set(stream, { sig: kept.sig, lwt: Math.max(kept.lwt, scanAt) });
        deps.clear(stream, () => false);
        noteKept(stream, first.signed.head);
        return false;
      }
    }
    const got = await fetchHead(stream, first);
    if (got === null) return UNDECIDED;
    const { signed, leaves } = got;
    const { head } = signed;
    if (signed.sig !== first.signed.sig) {
      if (older(head.seq)) return true;
      const again = await signerOf(stream, signed);
      if (again !== 'ok') return again === 'refused' || UNDECIDED;
    }
    // A statement past what this device pulled (signed after this device's catch-up, its live changes
    // still on the way) says nothing yet of this copy: checked again once the seq moves. A later link's
    // catch-up that still falls short is judged: the server serves less than a device confirmed.
    const pulled = deps.current?.().streams.find((s) => s.stream === stream)?.seq;
    if (pulled !== undefined && head.seq > pulled) {
      const since = ahead.get(stream);
      const shortOfEarlier = since !== undefined && since.link !== link && pulled < since.seq;
      if (!shortOfEarlier) {
        if (since === undefined || since.link !== link) ahead.set(stream, { link, seq: head.seq });
        verified?.set(stream, null);
        return true;
      }
    } else ahead.delete(stream);
    const readAt = verified?.now() ?? 0;
    /** The copy against the statement: records written here and not yet the server's are `unsure`. */
    const judge = async () => {
      const held = await deps.held(stream);
      const mine = new Map<string, { rv: number; tag: string }>();
      const unsure = new Set<string>();
      const between = slices();
      for (const leaf of leaves) {
        await between();
        const copy = held.get(leaf.id);
        if (copy === undefined) continue;
        if (copy.unsettled === true) {
          unsure.add(leaf.id);
          continue;
        }
        const tag = copy.rv === leaf.rv ? await copy.tag(leaf.tag) : null;
        mine.set(leaf.id, { rv: copy.rv, tag: tag ?? '' });
      }
      return { result: checkAgainstHead(head, leaves, (id) => mine.get(id)), unsure };
    };
    let { result, unsure } = await judge();
    // A finding may be a served record on its way into the store (the seq moves before it is stored):
    // the copy is read again once live work is done, and only what still holds is said.
    if (result.ok && result.findings.some((f) => !unsure.has(f.id))) {
      await (deps.yieldTo?.() ?? Promise.resolve()).catch(() => undefined);
      ({ result, unsure } = await judge());
    }
    if (!result.ok) {
      verified?.set(stream, null);
      refuse(stream, `the records the server lists for the statement of ${stream} are not the ones signed`);
      return true;
    }
    if (head.seq > seen) deps.seen.set(stream, head.seq);
    lastLeaves.set(stream, new Map(leaves.map((l) => [l.id, l])));
    const issues = result.findings.filter((f) => !unsure.has(f.id)).map((f) => headIssue(head, f));
    verified?.set(stream, issues.length === 0 && unsure.size === 0 ? { sig: signed.sig, lwt: readAt } : null);
    if (issues.length === 0) noteKept(stream, head);
    deps.clear(stream, (e) => issues.some((i) => i.code === e.code && i.id === e.id));
    for (const issue of issues) deps.report(issue);
    return issues.length > 0;
  };

  /** Checks due, oldest first; at most `checksAtOnce` run (each reads the store and asks the server). */
  let waiting: { stream: string; link: number; seq: number; stores: number }[] = [];
  /** The last settle of a stream whose check waited or ran then. */
  const missed = new Map<string, { seq: number; hints: (id: string) => string | undefined }>();
  let next = 0;
  let running = 0;
  const pump = (): void => {
    // The connection went: what waits is due again at the next settle on the next one.
    if (!deps.wireReady()) {
      for (const w of waiting.slice(next)) busy.delete(w.stream);
      missed.clear();
      waiting = [];
      next = 0;
      return;
    }
    while (!stopped && running < checksAtOnce && next < waiting.length) {
      const { stream, link: at, seq, stores: storedAt } = waiting[next++]!;
      if (next === waiting.length) {
        waiting = [];
        next = 0;
      }
      running++;
      (deps.yieldTo?.() ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => {
          // Not checked: due again at the next settle (never marked as checked).
          if (stopped || !deps.wireReady()) throw new Error('no longer connected');
          return check(stream);
        })
        .then((found) =>
          checked.set(stream, {
            link: at,
            seq,
            stores: storedAt,
            open: found !== false,
            undecided: found === UNDECIDED,
          }),
        )
        .catch(() => undefined)
        .finally(() => {
          busy.delete(stream);
          running--;
          const again = missed.get(stream);
          missed.delete(stream);
          if (again !== undefined && !stopped && deps.wireReady()) consider(stream, again.seq, again.hints);
          pump();
        });
    }
  };

  /** One stream of a settle: signed if whole, queued for a check if due, or remembered while one runs. */
  const consider = (stream: string, seq: number, hints: (id: string) => string | undefined): void => {
    const last = checked.get(stream);
    // Signed only once checked on this link and found whole: a device must not confirm what the
    // server rolled back or withholds (a fresh device would else sign the server's state as it is).
    const whole = last !== undefined && last.link === link && !last.open;
    if (patientOf(stream) === deps.accountId && seq > 0 && whole) maybeSign(stream, seq, hints);
    // A check of it waits or runs: this settle is weighed once it ends (what it read may be older).
    if (busy.has(stream)) {
      missed.set(stream, { seq, hints });
      return;
    }
    const storedNow = stores.get(stream) ?? 0;
    const due =
      last === undefined ||
      last.link !== link ||
      last.undecided ||
      (last.open && (last.seq !== seq || last.stores !== storedNow));
    if (!due) return;
    busy.add(stream);
    waiting.push({ stream, link, seq, stores: storedNow });
  };

  /**
   * The engine is caught up: `streams` are the readable streams and the seq it pulled each to; `hints`
   * names the tag of a version this device pushed (its own writes' tags under the epoch they were sealed).
   */
  function settled(
    streams: ReadonlyArray<{ stream: string; seq: number }>,
    hints: (id: string) => string | undefined = () => undefined,
  ): void {
    if (stopped || !deps.wireReady()) return;
    // A stream no longer readable is forgotten (checked in full if it is again).
    if (streams.length > 0) verified?.retain(new Set(streams.map((s) => s.stream)));
    for (const { stream, seq } of streams) consider(stream, seq, hints);
    pump();
  }

  return {
    /** A new connection: every stream is checked again once settled. */
    connected(): void {
      link++;
    },
    settled,
    /** A record of `stream` was stored: a stream with open issues is checked again at the next settle. */
    stored(stream: string): void {
      stores.set(stream, (stores.get(stream) ?? 0) + 1);
    },
    /** Whether an issue code is one of this module's. */
    owns: (code: string): boolean => HEAD_CODES.has(code),
    stop(): void {
      stopped = true;
      missed.clear();
      for (const w of waiting.slice(next)) busy.delete(w.stream);
      waiting = [];
      next = 0;
      for (const cancel of timers.values()) cancel();
      timers.clear();
    },
  };
};

export type HeadSync = ReturnType<typeof createHeadSync>;

/** A local record as the device store holds it (the fields a held copy needs). */
export interface StoredCopy {
  readonly id: string;
  readonly rv: number;
  readonly epoch: number;
  readonly deleted: boolean;
}

/**
 * `HeadSyncDeps.held` over the device store: copies of the stream that are the server's (not a purge's
 * emptied tombstone; one with a local write not yet acknowledged is marked `unsettled`), each tagged under the epoch it was sealed with when known, or under the
 * first candidate epoch (its own, then the stream's newest down to 0) that reproduces the hint.
 */
export const heldReader =
  <R extends StoredCopy>(deps: {
    copies(stream: string): Promise<readonly R[]>;
    /** Not held at all (a purge's emptied tombstone). */
    skip(stream: string, copy: R): boolean;
    /** Held with a local write the server has not yet acknowledged. */
    unsettled(stream: string, copy: R): boolean;
    tagUnder(copy: R, epoch: number): Promise<string | null>;
    newestEpoch(stream: string): Promise<number>;
  }) =>
  async (stream: string): Promise<ReadonlyMap<string, HeldCopy>> => {
    const newest = await deps.newestEpoch(stream).catch(() => 0);
    const out = new Map<string, HeldCopy>();
    for (const copy of await deps.copies(stream)) {
      if (deps.skip(stream, copy)) continue;
      if (deps.unsettled(stream, copy)) {
        out.set(copy.id, {
          rv: copy.rv,
          deleted: copy.deleted,
          unsettled: true,
          tag: () => Promise.resolve(null),
        });
        continue;
      }
      const tag = async (hint?: string): Promise<string | null> => {
        const own = await deps.tagUnder(copy, copy.epoch);
        if (hint === undefined || own === hint) return own;
        for (let e = Math.max(newest, copy.epoch); e >= 0 && e > Math.max(newest, copy.epoch) - 16; e--) {
          if (e !== copy.epoch && (await deps.tagUnder(copy, e)) === hint) return hint;
        }
        return own;
      };
      out.set(copy.id, { rv: copy.rv, deleted: copy.deleted, tag });
    }
    return out;
  };
