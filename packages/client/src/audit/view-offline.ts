/**
 * Views asked with `{ offline: 'cached' }` (`AuditViewAnswer`).
 *
 * | state when asked | answer |
 * | ---------------- | ------ |
 * | connected, the read answers | the log read now, as without the option: `complete: true`, `asOf` when asked |
 * | not connected, or the connection lost before the read answers (status leaves `ready`; NETWORK, TIMEOUT, STOPPED) | from the view cache alone, nothing read: `complete: false`, `reason: 'offline'`, `asOf` the last read that found the cache as it stands (VIEW_READ) |
 * | no cache answer may be given | SyncError NETWORK (retry) at once, naming why |
 *
 * No answer from the cache when: no VIEW or no VIEW_READ naming it; this session removed the cache (a
 * problem); it holds `dropped` entries (counts would be short); a restore recorded or announced since; SEEN
 * changed under it; or the directory answers a device author of it otherwise than it was judged.
 *
 * - It does not wait in view order (a view ahead may wait for the connection): VIEW_READ, then VIEW and its
 *   parts, as stored; a pair a view is writing meanwhile does not match (a part removed: read once more).
 * - An author the directory cannot answer for now counts as judged then (the answer is as of that read),
 *   except those that read could not judge: their entries are left out, counted in `unverified`.
 * - Lists only what a view would list from the cache: it misses what was served since and reports no
 *   problem a whole read would find in the cached part. `asOf` is not held to VIEW_FULL_CHECK_MS.
 * - A read cut short goes on in view order; its answer is dropped.
 */
import { CONNECTION_CODES, SyncError } from '../sync/connection';
import type { AuditCore } from './context';
import type { AuditViewAnswer, OpenedEntry } from './types';
import { judgeCached, staleView } from './view-cache';
import { VIEW_READ, ViewRead, asOpened, readView, type StoredView } from './view-store';
import { read, type ViewsCtx } from './views';

/**
 * A view asked with `{ offline: 'cached' }`: connected, the log read now as without the option;
 * otherwise, or once the connection is lost before that read answers, from the view cache
 * (`cachedView`), marked so. `make` builds the view from the entries.
 */
export const viewAnswer = async <T>(
  s: ViewsCtx,
  make: (opened: readonly OpenedEntry[]) => T | Promise<T>,
): Promise<AuditViewAnswer<T>> => {
  const { deps } = s.core;
  deps.assertUnlocked?.();
  const left = (unverified: number): { unverified?: number } => (unverified > 0 ? { unverified } : {});
  if (deps.connection.status() === 'ready') {
    const asOf = s.core.iso();
    const fresh = await whileConnected(s.core, read(s));
    if (fresh !== 'lost') {
      const { opened, verification } = fresh.value;
      const unverified = verification.problems.filter((p) => p.kind === 'unverified').length;
      return { records: await make(opened), asOf, complete: true, ...left(unverified) };
    }
  }
  const cached = await cachedView(s);
  return {
    records: await make(cached.opened),
    asOf: s.core.iso(cached.asOf),
    complete: false,
    reason: 'offline',
    ...left(cached.unverified),
  };
};

/**
 * `promise`, or `lost` once the connection leaves `ready` (`onStatusChange`) or the promise failed for
 * the connection (CONNECTION_CODES): a read that would wait for it is not waited for. It goes on
 * meanwhile (a view in view order), and its answer or failure is dropped.
 */
const whileConnected = <T>(
  core: Pick<AuditCore, 'deps'>,
  promise: Promise<T>,
): Promise<{ value: T } | 'lost'> =>
  new Promise((resolve, reject) => {
    const stop = core.deps.connection.onStatusChange((status) => {
      if (status === 'ready') return;
      stop();
      resolve('lost');
    });
    promise.then(
      (value) => {
        stop();
        resolve({ value });
      },
      (error: unknown) => {
        stop();
        if (error instanceof SyncError && CONNECTION_CODES.has(error.code)) resolve('lost');
        else reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });

/**
 * The own log as this device last verified it (the view cache), for an answer offline:
 * its entries and when the log was last read. Reads nothing from the server. Throws SyncError NETWORK
 * naming why when that cache may not be used (none, stale, or holding only the newest entries).
 */
const cachedView = async (
  s: ViewsCtx,
  again = true,
): Promise<{ opened: OpenedEntry[]; asOf: number; unverified: number }> => {
  // VIEW_READ before VIEW (written after it): a pair read while a view writes them does not match.
  const readNote = await s.core.deps.meta.get(VIEW_READ, ViewRead).catch(() => null);
  if (!s.view.cacheKept) throw noOfflineAnswer('a check of the log in this session found a problem');
  const stored = await readView(s);
  // Parts a view writing meanwhile removed (VIEW names others now): read once more.
  if (stored === 'unreadable' && again) return cachedView(s, false);
  if (stored === 'unreadable')
    throw noOfflineAnswer('the entries this device verified could not be read as it kept them');
  if (stored === null || readNote === null)
    throw noOfflineAnswer('this device has no check of the log that found no problem (by this build)');
  const view = stored.index;
  if (readNote.through !== view.through || readNote.fullAt !== view.fullAt)
    throw noOfflineAnswer('the last read of the log was not kept');
  if (view.dropped !== undefined)
    throw noOfflineAnswer(
      'this device keeps only the newest entries of the log, the older ones on the server',
    );
  const stale = await staleView(s, view).catch(() => 'what the log was checked against could not be read');
  if (stale !== null) throw noOfflineAnswer(stale);
  if (!(await judgedOffline(s, stored)))
    throw noOfflineAnswer('a device that wrote in the log was revoked since this device read it');
  // Authors whose device list did not load at that read: not judged then, so never listed as verified.
  const unjudged = new Set(readNote.unjudged);
  const listed = stored.entries.filter((e) => !unjudged.has(e.author));
  return {
    opened: listed.map(asOpened),
    asOf: readNote.at,
    unverified: stored.entries.length - listed.length,
  };
};

/**
 * `judgeCached` offline: every device author of the cache the directory answers for now as the cache
 * judged it. The directory answers from the lists it holds (this session's); one it cannot answer for
 * (no list held, none loads offline) is taken as judged then: the answer is as of that read (whose note
 * names those it could not judge then). The server's entries need no account: its author is known from
 * the cached entries it signed.
 */
const judgedOffline = async (s: ViewsCtx, view: StoredView): Promise<boolean> => {
  const servers = new Set(view.entries.filter((e) => e.source === 'server').map((e) => e.author));
  return !(await judgeCached(s, view.index, (author) => servers.has(author), true)).changed;
};

/** A view asked with `{ offline: 'cached' }` that cannot answer offline: why, as a connection failure. */
const noOfflineAnswer = (why: string): SyncError =>
  new SyncError('NETWORK', `not connected, and the audit log cannot be answered offline: ${why}`, true);
