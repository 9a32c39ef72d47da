/**
 * When the view cache (view-store.ts) may stand for the own log, and keeping it after a whole check.
 * A view reads only what is served past the cache and verifies it against the cached heads, SEEN and
 * OWN_LOST as a whole check would: for a cached part still served as it was, the same answer.
 *
 * A view reads and verifies the whole log instead when:
 * - there is no cache, or it does not read (a part missing or not as named);
 * - a device author of it is answered otherwise by the directory now (revoked since, cutoff moved), or an
 *   author of its heads was not noted (`judgeCached`: one look-up per author, from the directory's cache);
 * - another incarnation is recorded or announced (a restore), or SEEN within the cached heads is not the
 *   cached head (`acceptLosses`, a continued own chain: `staleView`);
 * - an entry is served at or below the cached position, or anything past it has a problem but `unverified`;
 * - the last whole read is VIEW_FULL_CHECK_MS old (this device's clock; a clock set back too), or this is
 *   the VIEW_FULL_CHECK_VIEWSth view of the session since one.
 *
 * After a whole check (`keepView`):
 * | result | the cache |
 * | ------ | --------- |
 * | no problem, every entry opened | written anew (`fullAt` now) |
 * | only `unverified` problems, a cache stored | kept as it was; authors it could not check left out; counts as the periodic whole read while they stay left out (`partialWhole`) |
 * | any other problem | removed (VIEW_READ first, then VIEW, then its parts): every view reads the whole log while the problem stands |
 *
 * - Not seen at once: the server changing the cached part (cutting an author's end there, rewriting an
 *   entry in place, dropping old entries) goes unreported by the views until the next whole read (at most a
 *   day or 25 views; `verify` at once), which then reports it and holds it (SEEN).
 * - Cached entries are not verified again; dropped ones are read again and held to the heads they were
 *   dropped at, by link hashes (opened, not re-verified).
 * - An author the directory cannot answer for now is `unjudged`: its entries are left out (`unverified`),
 *   never listed as verified, and its look-up is not made again for VIEW_UNJUDGED_RETRY_MS.
 */
import type { ServedDoc } from '@hale/protocol';
import type { AuthorUnavailable } from '../sync/device-directory';
import { linkOf, openAuditBody, type AuditProblem, type ChainState } from './audit-chain';
import { checkServed, judgedBy, judgedOf, sameJudged, type CheckState } from './check';
import type { AuditCore } from './context';
import { seenKey } from './meta-keys';
import { currentIncarnation, fetchFrom } from './served-log';
import { SeenChains } from './stored';
import type { Checked, OpenedEntry } from './types';
import { VIEW_UNJUDGED_RETRY_MS, lookupOf, waitsForList } from './view-state';
import {
  VIEW,
  VIEW_FULL_CHECK_MS,
  VIEW_FULL_CHECK_VIEWS,
  VIEW_READ,
  ViewCache,
  asOpened,
  fieldsOf,
  headsOf,
  noteUncachedRead,
  noteViewRead,
  overTail,
  partKeysOf,
  readView,
  storedPartKeys,
  sweepParts,
  viewEntries,
  withParts,
  writeIndex,
  writeView,
  type ViewFields,
  type ViewJudged,
} from './view-store';

/** What the view cache's logic needs of the log. */
export interface ViewCtx extends CheckState {
  readonly core: CheckState['core'] & Pick<AuditCore, 'served'>;
}

/**
 * After a check of the whole own log (`docs`, read through `through`): kept as the view cache when it
 * found no problem and every entry opened, else the cache is removed (a whole check that found a
 * problem may have found the cached part changed). A failure to write is not reported: the next view
 * reads the whole log.
 */
export const keepView = async (
  s: ViewCtx,
  docs: readonly ServedDoc[],
  through: number,
  checked: Checked,
  /** The store's incarnation before the log was read: a restore announced meanwhile is not taken for it. */
  incarnation: string | undefined,
  /** When the read began (this device's clock). */
  readAt: number,
  /**
   * Losses accepted (`acceptLosses`): the cache goes even when the only problems are entries not
   * checkable now, whose authors' chains were then held to nothing, so a cut there went unseen.
   */
  accepted = false,
): Promise<void> => {
  const { deps } = s.core;
  const entries = viewEntries(docs, checked);
  if (!checked.verification.ok || entries === null) {
    if (s.view.cacheKept && !accepted && (await keptUnverified(s, checked, through, readAt))) return;
    s.view.partialWhole = null;
    if (s.view.cacheKept) {
      const parts = await storedPartKeys(s);
      // VIEW_READ first: without it, a cache whose removal fails never answers offline.
      await deps.meta.set(VIEW_READ, null).catch(() => undefined);
      const removed = await deps.meta.set(VIEW, null).then(
        () => true,
        () => false,
      );
      // Its parts once VIEW no longer names them: a VIEW not removed stays whole (view-store.ts).
      if (removed) await sweepParts(s, new Set(), parts);
    }
    s.view.cacheKept = false;
    return;
  }
  s.view.sinceWhole = 0;
  const fullAt = deps.now();
  const fields: ViewFields = {
    ...(incarnation === undefined ? {} : { incarnation }),
    through,
    fullAt,
    heads: headsOf(checked.heads),
    judged: judgedBy(checked),
  };
  if (await writeView(s, fields, [], entries, await storedPartKeys(s)))
    await noteViewRead(s, through, fullAt, readAt);
};

/**
 * How the directory answers the device authors of `view` (but those `isServer` names) against how the
 * cache judged them (same account, same revocation cutoff or none): one look-up per author, which the
 * directory answers from its cache (its lists reloaded after a few minutes or at a reconnect). `changed`:
 * one answered otherwise (revoked since, its cutoff moved), or one of the heads' authors the cache did not
 * note. `unjudged`: those it cannot answer for now (the list did not load), not asked again for
 * VIEW_UNJUDGED_RETRY_MS; their entries are left out, never listed as verified. `offline` (an answer from
 * the cache alone): one it cannot answer for (a failed look-up too) counts as judged then, the answer
 * being as of that read, and nothing is noted; otherwise a failed look-up rejects.
 */
export const judgeCached = async (
  s: ViewCtx,
  view: ViewCache,
  isServer: (author: string) => boolean,
  offline: boolean,
): Promise<{ changed: boolean; unjudged: Set<string> }> => {
  const unjudged = new Set<string>();
  for (const author of Object.keys(view.heads))
    if (!isServer(author) && !Object.hasOwn(view.judged, author)) return { changed: true, unjudged };
  const { deps } = s.core;
  const now = deps.now();
  const answers = await Promise.all(
    Object.entries(view.judged).map(async ([author, was]): Promise<boolean> => {
      const asked = lookupOf(was.account, author);
      if (!offline && waitsForList(s.view, asked, now)) {
        unjudged.add(author);
        return true;
      }
      const lookup = deps.directory.authorKey(was.account, author);
      const key = offline
        ? await lookup.catch((error: unknown): AuthorUnavailable => ({ unavailable: String(error) }))
        : await lookup;
      if (key !== null && 'unavailable' in key) {
        if (offline) return true;
        s.view.unjudgedUntil.set(asked, now + VIEW_UNJUDGED_RETRY_MS);
        unjudged.add(author);
        return true;
      }
      if (!offline) s.view.unjudgedUntil.delete(asked);
      return key !== null && sameJudged(was, judgedOf(was.account, key));
    }),
  );
  return { changed: !answers.every(Boolean), unjudged };
};

/**
 * After a whole check of the own log whose only problems are entries not checkable now (`unverified`: an
 * author's device list did not load): no evidence against the view cache, which is kept as it was
 * (its `fullAt` too: the entries of those authors were not checked again) rather than removed, so the
 * views go on reading past it; and the read is noted for an answer offline (as of it only when nothing
 * was served past the cache: `noteUncachedRead`), those authors' entries
 * left out. False (nothing done) when there are other problems or no cache.
 */
const keptUnverified = async (
  s: ViewCtx,
  checked: Checked,
  through: number,
  readAt: number,
): Promise<boolean> => {
  const problems = checked.verification.problems;
  if (problems.length === 0 || problems.some((p) => p.kind !== 'unverified')) return false;
  const stored = await readView(s);
  if (stored === null || stored === 'unreadable') return false;
  const view = stored.index;
  const authors = new Set(problems.map((p) => p.author));
  s.view.sinceWhole = 0;
  s.view.partialWhole = { at: s.core.deps.now(), fullAt: view.fullAt, authors };
  const cached = new Set([...authors].filter((a) => Object.hasOwn(view.judged, a)));
  // The other cached authors as this check judged them (all their entries, cached ones too, with no
  // problem): one revoked after all its entries would otherwise differ from the cache at every view,
  // each reading the whole log again, and refuse an answer offline. Those it could not check keep how
  // they were judged before (never taken as judged now).
  const now = judgedBy(checked);
  const judged: ViewJudged = {};
  for (const [author, was] of Object.entries(view.judged)) {
    const j = authors.has(author) ? was : now[author];
    if (j !== undefined) judged[author] = j;
  }
  const moved =
    Object.keys(judged).length !== Object.keys(view.judged).length ||
    Object.entries(judged).some(([author, j]) => !sameJudged(view.judged[author] ?? null, j));
  // Unwritten: the next view finds the author changed and reads the whole log, as before.
  if (moved) await writeIndex(s, { ...view, judged });
  // What was served past the cache is not in it: an answer offline is not as of this read then.
  if (through === view.through) await noteViewRead(s, view.through, view.fullAt, readAt, cached);
  else await noteUncachedRead(s, view.through, view.fullAt, cached);
  return true;
};

/**
 * Whether the cache's last whole check is recent enough (VIEW_FULL_CHECK_MS, this device's clock): its
 * own, or this session's `partialWhole` of it when every author whose entries that one could not check
 * and the cache holds is left out now (`unjudged`): the rest of the log was checked whole then.
 */
const wholeRecently = (s: ViewCtx, view: ViewCache, unjudged: ReadonlySet<string>): boolean => {
  const { partialWhole } = s.view;
  const recent = (at: number): boolean => {
    const age = s.core.deps.now() - at;
    return age >= 0 && age < VIEW_FULL_CHECK_MS;
  };
  if (recent(view.fullAt)) return true;
  return (
    partialWhole !== null &&
    partialWhole.fullAt === view.fullAt &&
    recent(partialWhole.at) &&
    [...partialWhole.authors].every((a) => !Object.hasOwn(view.judged, a) || unjudged.has(a))
  );
};

/** Entries left out of a view because their author could not be judged now, as a whole check reports them. */
export const unjudgedProblem = (e: OpenedEntry): AuditProblem => ({
  kind: 'unverified',
  entryId: e.id,
  author: e.author,
  authorSeq: e.authorSeq,
  detail:
    `the device list of ${e.authorAccountId} could not be loaded now: whether ${e.author} may sign this ` +
    'entry (verified before) was not checked again; verify again later',
});

/**
 * The own log checked past the view cache (see the header): only the entries served after it are
 * read, verified against the heads it holds, and opened; the cache's entries (and those it dropped,
 * read again and held to its heads) come before them. Null when the cache may not be used now, or the
 * check past it found a problem: the caller reads and verifies the whole log.
 */
export const readPastView = async (s: ViewCtx, deadline: number, own: number): Promise<Checked | null> => {
  const { deps } = s.core;
  s.view.sinceWhole++;
  if (!s.view.cacheKept || s.view.sinceWhole >= VIEW_FULL_CHECK_VIEWS) return null;
  const view = await deps.meta.get(VIEW, ViewCache).catch(() => null);
  if (view === null) return null;
  if (s.view.partialWhole === null && !wholeRecently(s, view, new Set())) return null;
  if ((await staleView(s, view)) !== null) return null;
  // A device revoked since the cache was judged: what it signed since its cutoff counts for nothing. One
  // whose list does not load now is left out (`unjudged`), as a whole check would leave it out.
  const server = await deps.serverKey();
  const { changed, unjudged } = await judgeCached(s, view, (a) => a === server?.serverId, false);
  if (changed || !wholeRecently(s, view, unjudged)) return null;
  const stored = await withParts(s, view);
  if (stored === 'unreadable') return null;
  const older = view.dropped === undefined ? [] : await readDropped(s, view.dropped, deadline);
  if (older === null) return null;
  const readAt = deps.now();
  const { docs, through } = await fetchFrom(s.core, deps.accountId, view.through, Infinity, deadline);
  if (docs.some((d) => d.seq <= view.through)) return null;
  const earlier = (view.dropped?.entries ?? 0) + stored.entries.length;
  const heads = new Map(Object.entries(view.heads));
  // Not asked again past the cache: those look-ups (each author under the account the cache judged it).
  const unasked = new Set([...unjudged].map((a) => lookupOf(view.judged[a]!.account, a)));
  const since = { heads, entries: earlier, unjudged: unasked, judged: view.judged };
  const checked = await checkServed(s, deps.accountId, docs, own, false, since);
  if (checked === null) return null;
  // The new entries' authors judged as the cached ones were (the directory may have answered anew).
  const judged: ViewJudged = { ...view.judged };
  for (const [author, j] of checked.judged) {
    const was = Object.hasOwn(judged, author) ? judged[author]! : j;
    if (j === null || !sameJudged(was, j)) return null;
    judged[author] = j;
  }
  // Entries past the cache not checkable now (`unverified`) are not cached past: read again next view.
  const cachePast = docs.length > 0 && checked.verification.ok;
  if (cachePast) {
    const fresh = viewEntries(docs, checked);
    if (fresh === null) return null;
    const fields = { ...fieldsOf(view), through, heads: headsOf(checked.heads), judged };
    // Only VIEW and what is new written (see writeView), not the parts.
    if (await writeView(s, fields, stored.parts, [...view.entries, ...fresh], partKeysOf(stored)))
      await noteViewRead(s, through, view.fullAt, readAt, unjudged);
  } else {
    // Every entry in VIEW itself (written by a build before parts): written in parts once, as it stands
    // (same `through` and `fullAt`, so its VIEW_READ still names it).
    if (overTail(s, view.entries))
      await writeView(s, fieldsOf(view), stored.parts, view.entries, partKeysOf(stored));
    if (docs.length === 0) await noteViewRead(s, view.through, view.fullAt, readAt, unjudged);
    // Read past the cache and not cached: an answer offline lacks what was read, so not as of this read.
    else await noteUncachedRead(s, view.through, view.fullAt, unjudged);
  }
  const cached = [...older, ...stored.entries.map(asOpened)];
  const leftOut = cached.filter((e) => unjudged.has(e.author));
  const problems = [...leftOut.map(unjudgedProblem), ...checked.verification.problems];
  return {
    ...checked,
    verification: { ...checked.verification, ok: problems.length === 0, problems },
    opened: [...cached.filter((e) => !unjudged.has(e.author)), ...checked.opened],
    unchecked: [...leftOut.map((e) => e.body), ...checked.unchecked],
  };
};

/**
 * Why the view cache may not stand for the log as this device verifies it now, whatever the server
 * serves since (null: it may): a restore announced since it was read (the store it was read from is
 * gone), or not known to be none; the positions checks are held to (SEEN) lowered or replaced under it
 * (acceptLosses, a continued own chain), so the cached part was checked against others.
 */
export const staleView = async (s: ViewCtx, view: ViewCache): Promise<string | null> => {
  const { core } = s;
  const incarnation = await currentIncarnation(core);
  if (view.incarnation !== incarnation || (core.served !== undefined && core.served !== view.incarnation))
    return 'the server announced a restore of its store since this device read the log';
  const seen = (await core.deps.meta.get(seenKey(core, core.deps.accountId), SeenChains)) ?? {};
  for (const [author, at] of Object.entries(seen)) {
    const head = view.heads[author];
    if (head === undefined || at.seq > head.seq) continue;
    if (at.seq !== head.seq || at.hash !== head.hash)
      return 'how far the log is known stored changed since this device read it';
  }
  return null;
};

/**
 * The entries the view cache dropped (over its budget), read again: served at or below `through`, they
 * must verify with no problem and end at exactly its heads (so they are the entries verified before).
 * Null otherwise.
 */
const readDropped = async (
  s: ViewCtx,
  dropped: NonNullable<ViewCache['dropped']>,
  deadline: number,
): Promise<OpenedEntry[] | null> => {
  const { deps } = s.core;
  const { docs } = await fetchFrom(s.core, deps.accountId, 0, dropped.through, deadline);
  const part = docs.filter((d) => d.seq <= dropped.through);
  if (part.length !== dropped.entries) return null;
  const server = await deps.serverKey();
  // Each author's entries linked from position 1 to the head verified before: by the link hashes
  // (which cover the signed header, body and signature) the very entries verified then, so their
  // signatures are not checked again; they are only opened.
  const ends = new Map<string, ChainState>();
  const out: OpenedEntry[] = [];
  for (const e of part) {
    const link = linkOf(e);
    const end = ends.get(e.author) ?? { seq: 0, hash: null };
    if (link === null || e.audit?.authorSeq !== end.seq + 1 || e.audit.prevHash !== end.hash) return null;
    ends.set(e.author, { seq: e.audit.authorSeq, hash: link });
    const body = openAuditBody(e, deps.keys.wrapping, deps.x25519);
    if (body === null) return null;
    const fromServer = server !== null && e.author === server.serverId;
    out.push({
      id: e.id,
      seq: e.seq,
      author: e.author,
      authorSeq: e.audit.authorSeq,
      at: body.at,
      body,
      source: fromServer ? 'server' : body.actorId === deps.accountId ? 'patient' : 'grantee',
      authorAccountId: fromServer ? server.serverId : body.actorId,
    });
  }
  const want = Object.entries(dropped.heads);
  if (ends.size !== want.length) return null;
  for (const [author, head] of want) {
    const got = ends.get(author);
    if (got?.seq !== head.seq || got.hash !== head.hash) return null;
  }
  return out;
};
