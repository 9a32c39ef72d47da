/**
 * Streams verified whole, remembered (head-sync.ts): a stream the server serves the same signed statement
 * of again, and whose copy this device has not written since it was verified, is not read nor tagged again.
 *
 * | part | what |
 * |---|---|
 * | `verifiedStore(meta, now)` | device meta `head-verified`: per stream, the statement's signature and a store mark (`lwt`) |
 * | `createWriteScan(writes, oldest)` | the newest write per stream since the oldest mark, read on from where it last ended |
 *
 * Invariants: a mark is the store's write clock (`now`: store/write-clock.ts `settled()`) when the copy was
 * read: every write stamped below it had committed, so the read saw it; writes are compared by RxDB's stamp
 * (`_meta.lwt`). A stream written at or after its mark is read again; so is one served another statement (a
 * new seq, another signer). Only writes at or after the oldest mark kept are read.
 * Meta is sealed at rest like the records. Only whole results are kept: a stream with findings is always
 * checked again. A clock behind the newest mark at load (set back: later writes could be stamped before
 * it) drops every entry. A stream found unchanged has its mark moved to the write clock before the scan,
 * and a stream no longer readable is forgotten, so the oldest mark (where scans start) keeps up.
 * Failure modes: a failed read of the writes answers null (no stream counts as unchanged); a failed save is
 * tried again at the next change or flush; a malformed or missing entry is no entry.
 */
import { Type } from '@sinclair/typebox';
import { coalescedSave } from '../core/coalesced-save';

/** A point in the store's writes: RxDB's last-write time, then the document id. */
export interface StoreMark {
  readonly lwt: number;
  readonly id: string;
}

/** The statement a stream was found whole against, and the mark its copy was read after. */
export interface VerifiedStream {
  readonly sig: string;
  readonly lwt: number;
}

const KEY = 'head-verified';
export const HEAD_VERIFIED_SCHEMA = Type.Record(
  Type.String(),
  Type.Object({ sig: Type.String({ maxLength: 200 }), lwt: Type.Number() }),
);

export const verifiedStore = (
  meta: {
    get(key: string, schema: typeof HEAD_VERIFIED_SCHEMA): Promise<Record<string, VerifiedStream> | null>;
    set(key: string, value: unknown): Promise<void>;
  },
  now: () => number,
) => {
  let kept: Record<string, VerifiedStream> = {};
  const save = coalescedSave(() => meta.set(KEY, { ...kept }));
  return {
    async load(): Promise<void> {
      kept = { ...((await meta.get(KEY, HEAD_VERIFIED_SCHEMA).catch(() => null)) ?? {}) };
      if (Math.max(0, ...Object.values(kept).map((v) => v.lwt)) > now()) kept = {};
    },
    get: (stream: string): VerifiedStream | undefined => kept[stream],
    /** The clock RxDB stamps writes with (marks are taken from it). */
    now,
    set(stream: string, value: VerifiedStream | null): void {
      if (value === null) {
        if (kept[stream] === undefined) return;
        const { [stream]: _dropped, ...rest } = kept;
        kept = rest;
      } else kept = { ...kept, [stream]: value };
      save.soon();
    },
    /** Forgets the streams not in `streams`. */
    retain(streams: ReadonlySet<string>): void {
      const gone = Object.keys(kept).filter((stream) => !streams.has(stream));
      if (gone.length === 0) return;
      kept = Object.fromEntries(Object.entries(kept).filter(([stream]) => streams.has(stream)));
      save.soon();
    },
    /** The oldest mark kept (null: none). */
    oldest(): number | null {
      const all = Object.values(kept).map((v) => v.lwt);
      return all.length === 0 ? null : Math.min(...all);
    },
    async flush(): Promise<void> {
      if (save.cancel()) await save.save().catch(() => undefined);
      await save.settled();
    },
  };
};

export type VerifiedStore = ReturnType<typeof verifiedStore>;

/** The store's writes after `from` (null: all): the newest `lwt` per stream, and the newest write overall. */
export type WritesSince = (
  from: StoreMark | null,
) => Promise<{ readonly last: ReadonlyMap<string, number>; readonly end: StoreMark | null }>;

export interface WriteScan {
  /** Newest write per stream since the scan began, and the newest write read; null when the read failed. */
  readonly last: ReadonlyMap<string, number>;
  readonly end: StoreMark | null;
}

/** Reads the writes on from where the last read ended (one read at a time); answers null on failure. */
export const createWriteScan = (writes: WritesSince, oldest: () => number | null) => {
  let scan: WriteScan | null = null;
  let chain: Promise<WriteScan | null> = Promise.resolve(null);
  return (): Promise<WriteScan | null> => {
    chain = chain.then(async () => {
      const start = oldest();
      const from = scan?.end ?? (start === null ? null : { lwt: start, id: '' });
      try {
        const got = await writes(from);
        const last = new Map(scan?.last ?? []);
        for (const [stream, lwt] of got.last) last.set(stream, Math.max(last.get(stream) ?? 0, lwt));
        scan = { last, end: got.end ?? from };
        return scan;
      } catch {
        return null;
      }
    });
    return chain;
  };
};

/** Whether `stream` was written at or after `lwt`, as far as `scan` read. */
export const writtenSince = (scan: WriteScan, stream: string, lwt: number): boolean =>
  (scan.last.get(stream) ?? -Infinity) >= lwt;
