/**
 * Names of the per-patient device meta keys (`audit-chain:`, `audit-seen:`, `audit-kept:`), and their move
 * from the names an older build used (`<kind>/<patient id>`).
 *
 * - A name is `<kind>:` + HMAC-SHA256(patient id) under HKDF(at-rest key, NAMES_LABEL): the same on every
 *   start, and no key names a patient (device meta keys are stored in clear).
 * - A patient's key is not used before its move is done (`keyOf`): under a new name still empty, the chain
 *   would restart at 1, a fork the patient's devices report. A move that fails rejects what needed it.
 * - At a start `renameOld` moves every old name it can list, then removes them in one purge; it never
 *   throws. Failures are reported (AUDIT_KEYS_NOT_RENAMED) and tried again at the next start; a start
 *   that left none behind sets RENAMED, so later starts list nothing.
 * - A crash between a move and the removal leaves both names: the next start keeps the new value.
 */
import { Type } from '@sinclair/typebox';
import { base64urlEncode, hkdfSha256, hmacSha256, utf8Encode } from '@hale/crypto';
import type { DeviceMeta } from '../store/device-meta';
import { messageOf } from '../core/message-of';
import { AnyValue, CHAIN, KEPT, PER_PATIENT, RENAMED, SEEN, type PerPatient } from './stored';

/** HKDF info of the key of those digests (hash.ts: one label per purpose). */
const NAMES_LABEL = 'hale/meta-names/v1';
const namesKeyOf = (localKey: Uint8Array): Uint8Array => hkdfSha256(localKey, NAMES_LABEL);
const nameWith = (namesKey: Uint8Array, kind: PerPatient, patientId: string): string =>
  `${kind}:${base64urlEncode(hmacSha256(namesKey, utf8Encode(patientId)))}`;

/** The device meta key of `kind` for `patientId` on a device whose at-rest key is `localKey`. */
export const patientKeyName = (localKey: Uint8Array, kind: PerPatient, patientId: string): string =>
  nameWith(namesKeyOf(localKey), kind, patientId);

export interface MetaNames {
  readonly namesKey: Uint8Array;
  /** Per key, its move from an older build's name (made or under way); dropped when it failed. */
  readonly moves: Map<string, Promise<void>>;
}

export const createMetaNames = (localKey: Uint8Array): MetaNames => ({
  namesKey: namesKeyOf(localKey),
  moves: new Map(),
});

/** What naming needs of the log (context.ts' AuditCore has it). */
interface Core {
  readonly deps: { readonly meta: DeviceMeta };
  readonly issue: (message: string) => void;
  readonly names: MetaNames;
}

export const nameOf = (core: Pick<Core, 'names'>, kind: PerPatient, patientId: string): string =>
  nameWith(core.names.namesKey, kind, patientId);

/** `count` entries (null: not known, they could not be looked for) are left under their old names. */
const notRenamed = (core: Core, count: number | null, error: unknown): void => {
  const what =
    count === null
      ? "the audit metadata entries an older build named by a patient's id could not be looked for"
      : `${count} audit metadata entr${count === 1 ? 'y' : 'ies'} an older build named by a patient's id ` +
        'could not be renamed';
  core.issue(`AUDIT_KEYS_NOT_RENAMED: ${what}; tried again at the next start: ${messageOf(error)}`);
};

/** Moves `old`'s value to `name` unless `name` holds one (moved before a crash); whether `old` held one. */
const moveValue = async (core: Core, old: string, name: string): Promise<boolean> => {
  const value = await core.deps.meta.get(old, AnyValue);
  if (value === null) return false;
  await core.deps.meta.update(name, AnyValue, (current) => current ?? value);
  return true;
};

/** Runs `move` as the one move to `name` of this log, unless one was made or is under way. */
const moveOnce = (core: Core, name: string, move: () => Promise<void>): Promise<void> => {
  const known = core.names.moves.get(name);
  if (known !== undefined) return known;
  const made = move();
  core.names.moves.set(name, made);
  made.catch(() => core.names.moves.delete(name));
  return made;
};

/** The key of `kind` for `patientId`, once an older build's value is moved there (see the header). */
export const keyOf = async (core: Core, kind: PerPatient, patientId: string): Promise<string> => {
  const name = nameOf(core, kind, patientId);
  const old = `${kind}/${patientId}`;
  await moveOnce(core, name, async () => {
    if (await moveValue(core, old, name))
      await core.deps.meta.remove([old]).catch((e: unknown) => notRenamed(core, 1, e));
  });
  return name;
};

export const chainKey = (core: Core, patientId: string): Promise<string> => keyOf(core, CHAIN, patientId);
export const seenKey = (core: Core, patientId: string): Promise<string> => keyOf(core, SEEN, patientId);
export const keptKey = (core: Core, patientId: string): Promise<string> => keyOf(core, KEPT, patientId);

/** Moves every key an older build named by a patient's id, then removes the old names (see the header). */
export const renameOld = async (core: Core): Promise<void> => {
  const { meta } = core.deps;
  if ((await meta.get(RENAMED, Type.Boolean()).catch(() => null)) === true) return;
  const found: Array<{ old: string; name: string }> = [];
  try {
    for (const kind of PER_PATIENT) {
      const names = await meta.keys(`${kind}/`);
      // A store that cannot list its keys leaves them all to `keyOf`.
      if (names === null) return;
      for (const old of names) found.push({ old, name: nameOf(core, kind, old.slice(kind.length + 1)) });
    }
  } catch (error) {
    notRenamed(core, null, error);
    return;
  }
  const moved: string[] = [];
  let failure: unknown = null;
  for (const { old, name } of found) {
    try {
      await moveOnce(core, name, async () => void (await moveValue(core, old, name)));
      moved.push(old);
    } catch (error) {
      failure ??= error;
    }
  }
  let left = found.length - moved.length;
  // Removed ones still listed (a purge cut short) go too: `remove` purges them.
  if (moved.length > 0) {
    await meta.remove(moved).catch((error: unknown) => {
      failure ??= error;
      left = found.length;
    });
  }
  if (failure !== null) notRenamed(core, left, failure);
  // Not set when anything failed: the next start lists and tries again.
  else await meta.set(RENAMED, true).catch(() => undefined);
};
