/**
 * The view cache as stored: VIEW (`audit-view`, the own log only, so it names no patient), its parts
 * (`audit-view-part/<slot>`) and VIEW_READ (`audit-view-read`). What the cache may answer is
 * view-cache.ts'; this module reads and writes it.
 *
 * | key | holds | bound |
 * | --- | ----- | ----- |
 * | VIEW | fields (incarnation, `through`, `fullAt`, heads, judged, `dropped`), part refs, the newest entries (its tail) | VIEW_TAIL_ENTRIES, VIEW_TAIL_CHARS |
 * | part | older entries, in served order, written once under a random name and never again | VIEW_PART_ENTRIES, VIEW_PART_CHARS; MAX_VIEW_PARTS parts |
 * | VIEW_READ | when the log was last read with this cache found as it is (`through`, `fullAt`, `unjudged`) | — |
 * | all | the newest entries (older ones `dropped`: read again, held to their heads) | MAX_VIEW_ENTRIES, MAX_VIEW_CHARS |
 *
 * - VIEW binds its parts: the store seals each value to its key and a part key is never written twice, so
 *   a part VIEW names holds what was written under that name then. A part missing or not as named (count,
 *   first or last position, served order) makes the cache unreadable, as none.
 * - Write order: new parts, then VIEW, then parts no longer named removed (also any a crash left): VIEW
 *   always names a whole cache. VIEW_READ is written after VIEW and removed before it.
 * - A view with a few new entries writes VIEW alone; past the tail's bound they are sealed into a new part,
 *   the newest two parts merged while within a part's bound and the older at most twice the newer.
 * - Write failures are not reported: the next view uses what is stored, or reads the whole log.
 */
import { Type, type Static } from '@sinclair/typebox';
import { base64urlEncode, randomBytes } from '@hale/crypto';
import { AuditBody, Incarnation, type ServedDoc } from '@hale/protocol';
import { linkOf, type ChainHead } from './audit-chain';
import type { AuditCore } from './context';
import type { Checked, OpenedEntry } from './types';
import type { ViewState } from './view-state';

/** The log's modules a view cache store needs. */
export interface ViewStore {
  readonly core: Pick<AuditCore, 'deps'>;
  readonly view: ViewState;
}

/**
 * The account's own log as this device last verified it with no problem, for the views (see the header).
 * One key: the views read the account's own log only, so it names no patient.
 */
export const VIEW = 'audit-view';
/** Opened entries kept in VIEW at most, and characters of them (as JSON): older ones are read again. */
export const MAX_VIEW_ENTRIES = 20_000;
export const MAX_VIEW_CHARS = 8 * 1024 * 1024;
/** A view reads and verifies the whole log again when the last whole check is older than this… */
export const VIEW_FULL_CHECK_MS = 24 * 3600_000;
/** …and at every this-many views of a session. */
export const VIEW_FULL_CHECK_VIEWS = 25;
export const ViewHeads = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Object(
    { seq: Type.Integer({ minimum: 1 }), hash: Type.String({ maxLength: 128 }) },
    { additionalProperties: false },
  ),
);
/** An opened entry as kept, with its link hash (`chainLinkHash`): the next entry of its author names it. */
export const ViewEntry = Type.Object(
  {
    id: Type.String({ maxLength: 128 }),
    seq: Type.Integer({ minimum: 1 }),
    author: Type.String({ maxLength: 128 }),
    authorSeq: Type.Integer({ minimum: 1 }),
    at: Type.String({ maxLength: 64 }),
    body: AuditBody,
    source: Type.Union([Type.Literal('server'), Type.Literal('patient'), Type.Literal('grantee')]),
    authorAccountId: Type.String({ maxLength: 128 }),
    link: Type.String({ maxLength: 128 }),
    unreadable: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
export type ViewEntry = Static<typeof ViewEntry>;
/** Per device author of the cached entries (dropped ones too), how they were judged (`Judged`). */
export const ViewJudged = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Object(
    { account: Type.String({ maxLength: 128 }), revokedAt: Type.Optional(Type.String({ maxLength: 64 })) },
    { additionalProperties: false },
  ),
);
export type ViewJudged = Static<typeof ViewJudged>;
/**
 * The view cache's parts (see VIEW): older cached entries sealed under keys of their own, each a random
 * name (`audit-view-part/<slot>`) written once and never again, so an index naming one names that very
 * content; an index no longer naming one has it removed.
 */
export const VIEW_PART_PREFIX = 'audit-view-part/';
/** Entries kept in VIEW itself (its tail) at most, and characters of them: past it, sealed into parts. */
export const VIEW_TAIL_ENTRIES = 256;
export const VIEW_TAIL_CHARS = 128 * 1024;
/** A part holds at most this many entries and characters (more sealed at once are split)… */
export const VIEW_PART_ENTRIES = 1024;
export const VIEW_PART_CHARS = 512 * 1024;
/** …and one cache at most this many parts (past it the two adjacent smallest are merged, whatever size). */
export const MAX_VIEW_PARTS = 64;
/** Where a part of the view cache lies and what it holds (checked when read): see VIEW_PART_PREFIX. */
export const ViewPartRef = Type.Object(
  {
    key: Type.String({ pattern: '^audit-view-part/[A-Za-z0-9_-]{1,64}$' }),
    /** Its entries, the served positions of its first and last, and their characters as JSON. */
    entries: Type.Integer({ minimum: 1 }),
    from: Type.Integer({ minimum: 1 }),
    to: Type.Integer({ minimum: 1 }),
    chars: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ViewPartRef = Static<typeof ViewPartRef>;
export const ViewPart = Type.Object(
  { entries: Type.Array(ViewEntry, { minItems: 1, maxItems: MAX_VIEW_ENTRIES }) },
  { additionalProperties: false },
);
export const ViewCache = Type.Object(
  {
    /** The server store's incarnation the log was read from (`incarnation` in device meta then). */
    incarnation: Type.Optional(Incarnation),
    /** The stream position read through: every entry served at or below it is here or in `dropped`. */
    through: Type.Integer({ minimum: 0 }),
    /** When the whole log was last read and verified (this device's clock). */
    fullAt: Type.Number(),
    /** Each author's chain as verified whole through `through`. */
    heads: ViewHeads,
    /**
     * Each device author's account and revocation cutoff its entries were judged under: a view whose
     * directory now answers another reads the whole log. Every author of `heads` but the server is here.
     */
    judged: ViewJudged,
    /** The oldest entries, over the budget: served at or below `through`, verified whole to `heads`. */
    dropped: Type.Optional(
      Type.Object(
        { through: Type.Integer({ minimum: 1 }), entries: Type.Integer({ minimum: 1 }), heads: ViewHeads },
        { additionalProperties: false },
      ),
    ),
    /**
     * The older cached entries, in parts of their own (served order): every entry served after
     * `dropped.through` (or from the start) through the last's `to`. Absent: none (every entry is in
     * `entries`).
     */
    parts: Type.Optional(Type.Array(ViewPartRef, { minItems: 1, maxItems: MAX_VIEW_PARTS })),
    /** Every entry served after the parts (or `dropped.through`, or from the start) through `through`. */
    entries: Type.Array(ViewEntry, { maxItems: MAX_VIEW_ENTRIES }),
  },
  { additionalProperties: false },
);
export type ViewCache = Static<typeof ViewCache>;
export type ViewHeads = Static<typeof ViewHeads>;
/** What VIEW holds beside its entries and parts. */
export type ViewFields = Omit<ViewCache, 'entries' | 'parts'>;
/** A part of the view cache as read (`stored`) or still to be written: where it lies, and its entries. */
export interface HeldPart {
  ref: ViewPartRef;
  entries: ViewEntry[];
  stored: boolean;
}
/** The view cache as stored: VIEW (`index`, its `entries` the newest), its parts, every entry in order. */
export interface StoredView {
  index: ViewCache;
  parts: HeldPart[];
  entries: ViewEntry[];
}
export const fieldsOf = ({ entries: _entries, parts: _parts, ...fields }: ViewCache): ViewFields => fields;
export const partKeysOf = (view: StoredView): string[] => view.parts.map((p) => p.ref.key);
/**
 * When the log was last read with the view cache found as it is (VIEW_READ), which that cache is (its
 * `through` and `fullAt`), for an answer offline: written after VIEW, removed before it.
 */
export const VIEW_READ = 'audit-view-read';
export const ViewRead = Type.Object(
  {
    through: Type.Integer({ minimum: 0 }),
    fullAt: Type.Number(),
    at: Type.Number(),
    /**
     * Device authors of the cache the directory could not answer for at that read (`unjudged`): their
     * entries are left out of an answer offline.
     */
    unjudged: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: MAX_VIEW_ENTRIES })),
  },
  { additionalProperties: false },
);

export const asOpened = ({ link: _link, ...entry }: ViewEntry): OpenedEntry => entry;

/** The parts the stored VIEW names (none when it cannot be read), to remove once it no longer does. */
export const storedPartKeys = async (s: ViewStore): Promise<string[]> =>
  ((await s.core.deps.meta.get(VIEW, ViewCache).catch(() => null))?.parts ?? []).map((p) => p.key);

/**
 * Notes that the log was read at `at` and the view cache written with `through` and `fullAt` matched it
 * (VIEW_READ), its device authors in `unjudged` not answerable then: an answer offline is as of then,
 * without their entries. Unwritten, an older note stays, naming an older read of the same cache, or
 * another cache (then no answer offline until the next view writes it).
 */
export const noteViewRead = async (
  s: ViewStore,
  through: number,
  fullAt: number,
  at: number,
  unjudged: ReadonlySet<string> = new Set(),
): Promise<void> => {
  const note = { through, fullAt, at, ...(unjudged.size === 0 ? {} : { unjudged: [...unjudged] }) };
  await s.core.deps.meta.set(VIEW_READ, note).catch(() => undefined);
};

/**
 * `noteViewRead` for a read of entries past the cache that were not cached (some not checkable now): an
 * answer offline lacks them, so it stays as of the last read the cache covered (the note naming this
 * cache keeps its time), only its `unjudged` replaced by this read's. None naming it: nothing is noted.
 */
export const noteUncachedRead = async (
  s: ViewStore,
  through: number,
  fullAt: number,
  unjudged: ReadonlySet<string>,
): Promise<void> => {
  const was = await s.core.deps.meta.get(VIEW_READ, ViewRead).catch(() => null);
  if (was === null || was.through !== through || was.fullAt !== fullAt) return;
  await noteViewRead(s, through, fullAt, was.at, unjudged);
};

/** `docs` as kept (opened, with their link hashes), or null when some did not open as checked. */
export const viewEntries = (docs: readonly ServedDoc[], checked: Checked): ViewEntry[] | null => {
  if (checked.opened.length !== docs.length) return null;
  const out: ViewEntry[] = [];
  for (const [i, e] of checked.opened.entries()) {
    const doc = docs[i]!;
    const link = checked.links.get(doc) ?? linkOf(doc);
    if (link === null || doc.seq !== e.seq || doc.id !== e.id) return null;
    out.push({ ...e, link });
  }
  return out;
};

export const headsOf = (heads: ReadonlyMap<string, ChainHead>): ViewHeads => Object.fromEntries(heads);

/**
 * The view cache as stored, its parts read and held to what VIEW says of them (each there, with as many
 * entries as named, from and to the positions named, all in served order after `dropped`, none past
 * `through`). Null when there is none; `unreadable` when a part is not as named (removed since: a crash,
 * a view writing meanwhile, a VIEW rolled back): such a cache is not used.
 */
export const readView = async (s: ViewStore): Promise<StoredView | null | 'unreadable'> => {
  const index = await s.core.deps.meta.get(VIEW, ViewCache).catch(() => null);
  return index === null ? null : withParts(s, index);
};

/** `index` (VIEW as read) with its parts read and held to it, as `readView`. */
export const withParts = async (s: ViewStore, index: ViewCache): Promise<StoredView | 'unreadable'> => {
  const refs = index.parts ?? [];
  const read = await Promise.all(
    refs.map(async (ref) => s.core.deps.meta.get(ref.key, ViewPart).catch(() => null)),
  );
  let after = index.dropped?.through ?? 0;
  const inOrder = (entries: readonly ViewEntry[]): boolean => {
    for (const e of entries) {
      if (e.seq <= after) return false;
      after = e.seq;
    }
    return true;
  };
  const parts: HeldPart[] = [];
  for (const [i, ref] of refs.entries()) {
    const entries = read[i]?.entries;
    if (
      entries?.length !== ref.entries ||
      entries[0]?.seq !== ref.from ||
      entries.at(-1)?.seq !== ref.to ||
      !inOrder(entries)
    )
      return 'unreadable';
    parts.push({ ref, entries, stored: true });
  }
  if (!inOrder(index.entries) || after > index.through) return 'unreadable';
  return { index, parts, entries: [...parts.flatMap((p) => p.entries), ...index.entries] };
};

/** Entries VIEW itself keeps at most (the rest in parts), and characters of them. */
const tailEntries = (s: ViewStore): number => s.core.deps.viewCache?.tailEntries ?? VIEW_TAIL_ENTRIES;
export const overTail = (s: ViewStore, entries: readonly ViewEntry[], chars?: number): boolean =>
  entries.length > tailEntries(s) || (chars ?? JSON.stringify(entries).length) > VIEW_TAIL_CHARS;

/** A part to write: a new name, never used before (see VIEW_PART_PREFIX). */
const newPart = (entries: ViewEntry[], chars: number): HeldPart => ({
  ref: {
    key: `${VIEW_PART_PREFIX}${base64urlEncode(randomBytes(16))}`,
    entries: entries.length,
    from: entries[0]!.seq,
    to: entries.at(-1)!.seq,
    chars,
  },
  entries,
  stored: false,
});

const mergeParts = (a: HeldPart, b: HeldPart): HeldPart =>
  newPart([...a.entries, ...b.entries], a.ref.chars + b.ref.chars);

/**
 * Writes the view cache: `fields`, the parts `kept` as they are (the older entries), then `tail` (the
 * newer ones), kept in VIEW while within VIEW_TAIL_*, else sealed into new parts of at most VIEW_PART_*;
 * the newest two parts are then merged while together within VIEW_PART_* and the older at most twice the
 * newer, so an entry is written again a few times at most and the parts stay few (at most MAX_VIEW_PARTS:
 * past it, the two adjacent smallest merged). Past the budget, the oldest entries go to `dropped` (read
 * again when needed): the tail's one by one, the parts' a whole part at a time, the newest entry always
 * kept. So a view that finds a few new entries writes VIEW and those entries, not the cache again. New
 * parts are written first, each under a new name, then VIEW, then the parts it no longer names removed
 * (`replaced`, the ones the stored VIEW named, and any a crash left): VIEW always names a whole cache.
 * False when VIEW could not be written (the stored cache stays, parts written meanwhile removed later).
 */
export const writeView = async (
  s: ViewStore,
  fields: ViewFields,
  kept: readonly HeldPart[],
  tail: readonly ViewEntry[],
  replaced: readonly string[],
): Promise<boolean> => {
  const { deps } = s.core;
  const maxEntries = Math.min(deps.viewCache?.maxEntries ?? MAX_VIEW_ENTRIES, MAX_VIEW_ENTRIES);
  const maxChars = deps.viewCache?.maxChars ?? MAX_VIEW_CHARS;
  const partEntries = deps.viewCache?.partEntries ?? VIEW_PART_ENTRIES;
  const maxParts = Math.min(deps.viewCache?.maxParts ?? MAX_VIEW_PARTS, MAX_VIEW_PARTS);
  const newest = kept.at(-1);
  // The newest part alone over the budget, nothing newer: its entries are kept one by one, as a tail's.
  if (tail.length === 0 && newest !== undefined && newest.ref.entries > maxEntries)
    return writeView(s, fields, kept.slice(0, -1), newest.entries, replaced);
  const sizes = tail.map((e) => JSON.stringify(e).length);
  // The newest first, the newest always (whatever its size).
  let keep = 0;
  let chars = 0;
  let cut = tail.length;
  while (cut > 0) {
    const size = sizes[cut - 1]!;
    if (keep >= maxEntries || (keep > 0 && chars + size > maxChars)) break;
    keep++;
    chars += size;
    cut--;
  }
  const tailChars = chars;
  let from = kept.length;
  while (cut === 0 && from > 0) {
    const { ref } = kept[from - 1]!;
    if (keep + ref.entries > maxEntries || (keep > 0 && chars + ref.chars > maxChars)) break;
    keep += ref.entries;
    chars += ref.chars;
    from--;
  }
  if (cut > 0) from = kept.length;
  const gone = [...kept.slice(0, from).flatMap((p) => p.entries), ...tail.slice(0, cut)];
  let dropped = fields.dropped;
  const last = gone.at(-1);
  if (last !== undefined) {
    const heads: ViewHeads = { ...dropped?.heads };
    for (const e of gone) heads[e.author] = { seq: e.authorSeq, hash: e.link };
    dropped = { through: last.seq, entries: (dropped?.entries ?? 0) + gone.length, heads };
  }
  const parts: HeldPart[] = kept.slice(from);
  let rest = tail.slice(cut);
  const restSizes = sizes.slice(cut);
  if (overTail(s, rest, tailChars)) {
    let chunk: ViewEntry[] = [];
    let chunkChars = 0;
    for (const [i, e] of rest.entries()) {
      const size = restSizes[i]!;
      if (chunk.length > 0 && (chunk.length >= partEntries || chunkChars + size > VIEW_PART_CHARS)) {
        parts.push(newPart(chunk, chunkChars));
        chunk = [];
        chunkChars = 0;
      }
      chunk.push(e);
      chunkChars += size;
    }
    parts.push(newPart(chunk, chunkChars));
    rest = [];
    for (;;) {
      const [a, b] = parts.slice(-2);
      if (a === undefined || b === undefined) break;
      const fits =
        a.ref.entries + b.ref.entries <= partEntries && a.ref.chars + b.ref.chars <= VIEW_PART_CHARS;
      if (!fits || a.ref.entries > 2 * b.ref.entries) break;
      parts.splice(-2, 2, mergeParts(a, b));
    }
  }
  while (parts.length > maxParts) {
    let at = 0;
    for (let i = 1; i + 1 < parts.length; i++) {
      const size = (j: number): number => parts[j]!.ref.chars + parts[j + 1]!.ref.chars;
      if (size(i) < size(at)) at = i;
    }
    parts.splice(at, 2, mergeParts(parts[at]!, parts[at + 1]!));
  }
  const { dropped: _before, ...unchanged } = fields;
  const index: ViewCache = {
    ...unchanged,
    ...(dropped === undefined ? {} : { dropped }),
    ...(parts.length === 0 ? {} : { parts: parts.map((p) => p.ref) }),
    entries: rest,
  };
  try {
    await Promise.all(
      parts.filter((p) => !p.stored).map(async (p) => deps.meta.set(p.ref.key, { entries: p.entries })),
    );
    await deps.meta.set(VIEW, index);
  } catch {
    // Unwritten: the next view reads what it finds, or the whole log; new parts go at a later write.
    return false;
  }
  s.view.cacheKept = true;
  await sweepParts(s, new Set(parts.map((p) => p.ref.key)), replaced);
  return true;
};

/** Writes VIEW alone (its parts as they are). False when it could not be written. */
export const writeIndex = async (s: ViewStore, index: ViewCache): Promise<boolean> => {
  try {
    await s.core.deps.meta.set(VIEW, index);
    s.view.cacheKept = true;
    return true;
  } catch {
    return false;
  }
};

/**
 * Removes the parts of the view cache VIEW does not name (`named`): `replaced`, and any the store lists
 * (left by a crash or a failed write). Not removed (the store fails): tried again at the next write.
 */
export const sweepParts = async (
  s: ViewStore,
  named: ReadonlySet<string>,
  replaced: readonly string[],
): Promise<void> => {
  const { meta } = s.core.deps;
  const listed = (await meta.keys(VIEW_PART_PREFIX).catch(() => null)) ?? [];
  const stale = [...new Set([...replaced, ...listed])].filter(
    (key) => key.startsWith(VIEW_PART_PREFIX) && !named.has(key),
  );
  if (stale.length === 0) return;
  // A store that cannot remove keys: emptied instead (read as none).
  await meta
    .remove(stale)
    .catch(async () => Promise.all(stale.map(async (key) => meta.set(key, null).catch(() => undefined))));
};
