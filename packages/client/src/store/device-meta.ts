/**
 * Device metadata kept beside the records (RxDB local documents, encrypted at rest): a key-value store
 * whose values are checked against the schema their reader names. Each module defines the schemas of what
 * it keeps in its own `stored-state.ts`, registered in core/stored-state.ts. Only values are sealed: a key
 * is a local document's id, stored in clear, so no key may name a patient (audit-log.ts names its
 * per-patient keys by a keyed digest of the patient's id); `remove` leaves no removed document behind
 * that names the key (RxDB keeps those until purged: store/meta-store.ts).
 *
 * Invariants:
 * - A value read back is checked against its schema before use; one that does not match is reported
 *   (`onInvalid`), never cast into shape: `get` answers null, or with `strict` refuses (META_INVALID).
 * - `update` (read, change, write back) refuses an unreadable value the same way, before its change runs.
 * - Writes of one key (`set`, `update`, `remove`) run one at a time, in call order; two
 *   read-change-writes of a key never interleave (within this process). A change must not write its own key.
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';
import type { Static, TSchema } from '@sinclair/typebox';
import { validate } from '@hale/protocol';

/** DeviceMetaError's codes; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts). */
export const DEVICE_META_ERROR_CODES = ['META_INVALID'] as const satisfies readonly HaleErrorCode[];
export type DeviceMetaErrorCode = (typeof DEVICE_META_ERROR_CODES)[number];

export class DeviceMetaError extends HaleError {
  readonly code: DeviceMetaErrorCode;
  readonly key: string;

  constructor(code: DeviceMetaErrorCode, key: string, message: string) {
    super(message);
    this.name = 'DeviceMetaError';
    this.code = code;
    this.key = key;
  }
}

export const isDeviceMetaError = (e: unknown, code?: DeviceMetaErrorCode): e is DeviceMetaError =>
  e instanceof DeviceMetaError && (code === undefined || e.code === code);

export interface DeviceMeta {
  /**
   * The value stored under `key`, or null when nothing is. A value failing `schema` is reported
   * (`onInvalid`) and answered as null, or with `strict` refused: DeviceMetaError META_INVALID.
   */
  get<S extends TSchema>(
    key: string,
    schema: S,
    options?: { readonly strict?: boolean },
  ): Promise<Static<S> | null>;
  set(key: string, value: unknown): Promise<void>;
  /**
   * Writes `change(current)` back after the key's earlier writes, and answers it; rejects, writing nothing,
   * when the stored value fails `schema` (reported, and DeviceMetaError META_INVALID, as `get` strict). A
   * change that answers `current` itself leaves it: nothing is written (null only when nothing is stored).
   */
  update<S extends TSchema>(
    key: string,
    schema: S,
    change: (current: Static<S> | null) => Static<S> | null | Promise<Static<S> | null>,
  ): Promise<Static<S> | null>;
  /**
   * Removes `keys`, after their earlier writes, and with them their names from the store (a store that
   * keeps removed entries, as RxDB does, purges them). Rejects when the store cannot remove.
   */
  remove(keys: readonly string[]): Promise<void>;
  /**
   * The keys stored under `prefix`, removed ones whose name the store still holds included (`remove` them
   * again to purge them). Null when the store cannot list its keys.
   */
  keys(prefix: string): Promise<string[] | null>;
}

/** Wraps raw storage (`read` answers the stored value or undefined) with schema checks on read. */
export const createDeviceMeta = (raw: {
  read(key: string): Promise<unknown>;
  write(key: string, value: unknown): Promise<void>;
  /** Removes the keys and purges them (see `DeviceMeta.remove`); absent: the store cannot. */
  remove?(keys: readonly string[]): Promise<void>;
  /** The keys under a prefix (see `DeviceMeta.keys`); absent: the store cannot list them. */
  list?(prefix: string): Promise<string[]>;
  onInvalid?: (key: string, reason: string) => void;
}): DeviceMeta => {
  const read = async <S extends TSchema>(key: string, schema: S) => {
    const value = await raw.read(key);
    if (value === undefined || value === null) return { ok: true as const, value: null };
    const checked = validate(schema, value);
    if (checked.ok) return checked;
    raw.onInvalid?.(key, checked.error.message);
    return { ok: false as const, message: checked.error.message };
  };
  /** Per key, the last write queued (settled, never rejecting); removed once nothing follows it. */
  const tails = new Map<string, Promise<void>>();
  /** Runs `job` after the earlier writes of every key of `keys`, and before their later ones. */
  const serial = <T>(keys: readonly string[], job: () => Promise<T>): Promise<T> => {
    const run = Promise.all(keys.map((key) => tails.get(key) ?? Promise.resolve())).then(job);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    for (const key of keys) {
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
    }
    return run;
  };
  const unreadable = (key: string, why: string, after = ''): DeviceMetaError =>
    new DeviceMetaError('META_INVALID', key, `device metadata "${key}" cannot be read (${why})${after}`);
  return {
    async get(key, schema, options) {
      const r = await read(key, schema);
      if (r.ok) return r.value;
      if (options?.strict) throw unreadable(key, r.message);
      return null;
    },
    set: (key, value) => serial([key], () => raw.write(key, value)),
    update: (key, schema, change) =>
      serial([key], async () => {
        const r = await read(key, schema);
        if (!r.ok) throw unreadable(key, r.message, '; not overwritten');
        const next = await change(r.value);
        if (next === r.value) return next;
        if (next === null)
          throw new Error(`device metadata "${key}": a change answered nothing; not removed`);
        await raw.write(key, next);
        return next;
      }),
    async remove(keys) {
      if (raw.remove === undefined) throw new Error('device metadata: this store cannot remove keys');
      if (keys.length > 0) await serial(keys, async () => raw.remove?.(keys));
    },
    keys: async (prefix) => (raw.list ? raw.list(prefix) : null),
  };
};
