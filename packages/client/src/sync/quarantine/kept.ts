/**
 * Content kept of versions refused BAD_TRANSITION (they opened and verified: record and writer known).
 *
 * Invariants:
 * - Kept with the entry, in device meta under a random key name (`quarantine-kept/<slot>`, sealed at rest
 *   as all device meta; key names lie in clear and name nothing of the record), written before the list
 *   that names it and removed after the list that no longer does; a key no entry names is removed at start.
 * - Nothing is kept for other reasons (a version that did not open or verify is no one's known content).
 * - Bounded: a version over `entryBytes` (JSON, UTF-8) is not kept (`too-large`); beyond `totalBytes` in
 *   all, the content of the oldest entries not marked `overwritten` goes first, then that of the oldest
 *   marked ones (`budget`, reported QUARANTINE_CONTENT_DROPPED).
 * - It goes with its entry (answered, dropped beyond the cap, dismissed) and with its stream's purge
 *   (`purged`; the entry stays).
 * - Writes and removals run one at a time, in order (`job`), with the list writes (quarantine/list.ts).
 */
import { MAX_DOC_BYTES } from '@hale/protocol';
import type { Static } from '@sinclair/typebox';
import { base64urlEncode, randomBytes, utf8Encode } from '@hale/crypto';
import { isAtRestError } from '../../store/at-rest-encryption';
import { SYNC_STATE, type KeptContentLoss } from '../stored-state';
import { SyncError } from '../connection';
import type { EngineCore } from '../engine-core';
import type { KeptWrite, Listed, QuarantinedVersion, QuarantineKey, Refused } from '../types';
import type { KeptContent } from '../engine-parts';

/**
 * Most bytes (JSON, UTF-8) of one refused version's content kept: what one sealed version may carry, so no
 * verified version is too large for its own size; a larger one (none the server takes) is not kept.
 */
const MAX_KEPT_VERSION_BYTES = MAX_DOC_BYTES;
/** Most bytes of refused versions' content kept in all; beyond it the oldest go (see the header). */
const MAX_KEPT_BYTES = 8 * 1024 * 1024;
/** Device meta keys of kept content: `quarantine-kept/<slot>`, a random name (keys lie in clear). */
export const KEPT_PREFIX = 'quarantine-kept/';
const keptKey = (slot: string): string => `${KEPT_PREFIX}${slot}`;

export const slotsOf = (list: readonly Listed[]): Set<string> => {
  const out = new Set<string>();
  for (const q of list) if (q.slot !== undefined) out.add(q.slot);
  return out;
};

export const createKeptContent = (core: EngineCore): KeptContent => {
  const { deps } = core;
  const keptEntry = deps.keptContent?.entryBytes ?? MAX_KEPT_VERSION_BYTES;
  const keptTotal = deps.keptContent?.totalBytes ?? MAX_KEPT_BYTES;
  const iso = core.iso;
  /** Entries of the list whose content is kept (with a slot); 0 in the common case, which then costs nothing. */
  let keptSlots = 0;
  /** Writes and removals of kept content, one at a time in order (never rejecting: each caller awaits its own). */
  let keptWork: Promise<void> = Promise.resolve();
  const keptJob = (job: () => Promise<void>): Promise<void> => {
    const run = keptWork.then(job);
    keptWork = run.catch(() => undefined);
    return run;
  };
  /** Removes kept content; a store that cannot remove keys has each overwritten with nothing. */
  const forgetKept = async (slots: readonly string[]): Promise<void> => {
    const keys = slots.map(keptKey);
    try {
      await deps.meta.remove(keys);
    } catch {
      for (const key of keys) await deps.meta.set(key, null);
    }
  };
  /** An entry whose content is not kept (any more), and why. */
  const withoutContent = (q: Listed, why: KeptContentLoss, at: string): Listed => {
    const { slot: _slot, ...rest } = q;
    return { ...rest, content: { kept: false, why, at } };
  };
  /**
   * `list` with content kept within keptTotal bytes: beyond it, the content of the oldest entries not
   * marked `overwritten` goes first, then that of the oldest marked ones (the only trace of a version the
   * server no longer holds); each such entry says so (`budget`). Reported once per list.
   */
  const withinBudget = (list: Listed[]): Listed[] => {
    let total = 0;
    for (const q of list) if (q.slot !== undefined && q.content?.kept === true) total += q.content.bytes;
    if (total <= keptTotal) return list;
    const drop = new Set<Listed>();
    for (const overwritten of [false, true]) {
      for (const q of list) {
        if (total <= keptTotal) break;
        if (q.slot === undefined || q.content?.kept !== true || (q.overwritten !== undefined) !== overwritten)
          continue;
        drop.add(q);
        total -= q.content.bytes;
      }
    }
    const at = iso();
    core.issues.report({
      code: 'QUARANTINE_CONTENT_DROPPED',
      message: `The content of ${drop.size} refused version(s) set aside was dropped: more than ${keptTotal} bytes were kept; their quarantine entries stay`,
    });
    return list.map((q) => (drop.has(q) ? withoutContent(q, 'budget', at) : q));
  };

  /**
   * What a new entry for `item` says of its content: kept (queued on `contents` under a new slot) for a
   * version refused BAD_TRANSITION, whose record opened and verified, unless larger than keptEntry bytes;
   * nothing for other reasons (a version that did not open or verify is not known to be anyone's).
   */
  const keep = (item: Refused, contents: KeptWrite[]): Pick<Listed, 'content' | 'slot'> => {
    const { doc, reason, record } = item;
    if (reason !== 'BAD_TRANSITION' || record === undefined) return {};
    const value: KeptWrite['value'] = {
      stream: doc.stream,
      id: doc.id,
      rev: doc.rev,
      author: { accountId: record.by, deviceId: record.author },
      record: {
        kind: record.kind,
        rv: record.rv,
        deleted: record._deleted,
        updatedAt: record.updatedAt,
        data: record.data,
        conflict: record.conflict,
        conflictData: record.conflictData,
      },
    };
    const bytes = utf8Encode(JSON.stringify(value)).length;
    if (bytes > keptEntry) return { content: { kept: false, why: 'too-large', at: iso() } };
    const slot = base64urlEncode(randomBytes(16));
    contents.push({ slot, value });
    return { content: { kept: true, bytes }, slot };
  };

  /**
   * The content kept for listed version `q` in `slot` (read from device meta, after pending writes), or null when the value does not open at rest
   * (damaged on disk: content not kept, as documented) or is another version's. Other read errors reject.
   */
  const keptContentOf = async (
    q: QuarantineKey,
    slot: string,
  ): Promise<Static<typeof SYNC_STATE.quarantineKept> | null> => {
    // An entry is listed as soon as it is set aside, before its content is written (`saveQuarantine`):
    // read after the kept-content work queued so far, or a version asked about at once reads as not kept.
    // Never called from inside that queue (it would wait for itself).
    await keptWork;
    let kept: Static<typeof SYNC_STATE.quarantineKept> | null;
    try {
      kept = await deps.meta.get(keptKey(slot), SYNC_STATE.quarantineKept);
    } catch (e) {
      if (!isAtRestError(e)) throw e;
      return null;
    }
    return kept !== null && kept.stream === q.stream && kept.id === q.id && kept.rev === q.rev ? kept : null;
  };

  /**
   * The account whose signature over a listed version this device verified, where it knows it: the
   * signer of one the server took this device's change over, else the author kept with its content (a
   * version refused BAD_TRANSITION). Only names it in the audit entry: a read that fails names none.
   */
  const verifiedAuthorOf = async (q: Listed): Promise<string | undefined> => {
    if (q.reason !== 'BAD_TRANSITION') return undefined;
    if (q.overwritten !== undefined) return q.overwritten.by;
    if (q.slot === undefined) return undefined;
    return (await keptContentOf(q, q.slot).catch(() => null))?.author.accountId;
  };

  /**
   * Dismisses listed entries (`dismissQuarantined`): recorded in the audit log first (`auditDismissal`),
   * then the dismissals are written, then the list without them; after a crash in between, start() drops
   * from the list what was dismissed. Nothing changes and nothing is recorded when one is not listed;
   * nothing changes when the dismissal cannot be recorded or the dismissals cannot be written (after
   * retries); a version recorded is not recorded again (`recordedUnstored`).
  /** The kept content of a listed version (`quarantinedVersion`). */
  const readKept = async (key: QuarantineKey): Promise<QuarantinedVersion> => {
    const find = () =>
      core.quarantine.list().find((e) => e.stream === key.stream && e.id === key.id && e.rev === key.rev);
    const q = find();
    if (q === undefined) {
      throw new SyncError(
        'NOT_QUARANTINED',
        `no quarantine entry for revision ${key.rev} of ${key.stream} record ${key.id}`,
        false,
      );
    }
    const notKept = (why: string) =>
      new SyncError(
        'VERSION_NOT_KEPT',
        `the content of revision ${q.rev} of ${q.stream} record ${q.id} is not kept: ${why}`,
        false,
      );
    if (q.slot === undefined) {
      const c = q.content;
      throw notKept(
        c === undefined
          ? q.reason === 'BAD_TRANSITION'
            ? 'it was set aside before content was kept'
            : `only versions refused BAD_TRANSITION are kept, this one is ${q.reason}`
          : c.kept
            ? 'it could not be read'
            : c.why === 'too-large'
              ? 'it is larger than one entry may keep'
              : c.why === 'budget'
                ? 'dropped beyond the total kept'
                : 'purged with its stream when access ended',
      );
    }
    const kept = await keptContentOf(q, q.slot);
    // Dismissed or dropped while it was read: what the person asked for is gone.
    const still = find();
    if (still === undefined || still.slot !== q.slot) throw notKept('the entry changed while it was read');
    if (kept === null) throw notKept('it could not be read');
    return {
      stream: q.stream,
      id: q.id,
      rev: q.rev,
      reason: q.reason,
      message: q.message,
      at: q.at,
      ...(still.overwritten ? { overwritten: { ...still.overwritten } } : {}),
      author: kept.author,
      record: kept.record,
    };
  };
  return {
    /** Entries of the list whose content is kept; 0 in the common case, which then costs nothing. */
    slots: (): number => keptSlots,
    setSlots(n: number): void {
      keptSlots = n;
    },
    job: keptJob,
    /** Waits for the kept-content work queued so far. */
    settled: (): Promise<void> => keptWork,
    write: (c: KeptWrite): Promise<void> => deps.meta.set(keptKey(c.slot), c.value),
    forgetKept,
    withoutContent,
    withinBudget,
    keep,
    verifiedAuthorOf,
    readKept,
    /** At start: content no entry names (a crash between writes) is removed. */
    async removeStrays(named: ReadonlySet<string>): Promise<void> {
      const strays = ((await deps.meta.keys(KEPT_PREFIX)) ?? [])
        .map((key) => key.slice(KEPT_PREFIX.length))
        .filter((slot) => !named.has(slot));
      if (strays.length > 0) await keptJob(() => forgetKept(strays));
    },
  };
};
