/**
 * `session.drafts`: what a person typed into a form and has not saved, kept on this device so that a crash,
 * a reload, a lock or a lost network loses none of it. Stored as device metadata of the session's store (a
 * local document of the device database, its value sealed by the account's at-rest key like every device
 * meta value: store/at-rest-encryption.ts); the document's id (`app-drafts`) names nothing. Nothing of a
 * draft leaves the device: it is not a record, it does not sync.
 *
 * | call | does |
 * |---|---|
 * | `get(key)` | the draft kept under `key` (`DraftEntry`: its values and when they were kept), or null |
 * | `set(key, values)` | keeps `values` under `key`, replacing what was there |
 * | `delete(key)` | drops it (after the form was saved, or the person started over) |
 * | `list()` | the keys kept, newest first, with when |
 * | `clear()` | drops every draft of this device |
 *
 * Invariants: every draft is one entry of one sealed value; writes run one at a time in call order (device
 * meta `update`), so two saves never undo each other; a value read back that fails its schema (damaged, or
 * written by another build) is treated as no drafts and is never written over (DeviceMetaError META_INVALID
 * from `set`/`delete`).
 * Failure modes (`DraftError`, a HaleError): `INVALID_DRAFT` (a key that is no short text, values that are not
 * text, numbers, booleans or null, or larger than MAX_DRAFT_CHARS: nothing kept). Past MAX_DRAFTS the oldest
 * draft is dropped (an unsaved form from long ago). After lock or close every call rejects with AccountError
 * LOCKED.
 */
import { Type, type Static } from '@sinclair/typebox';
import { validate } from '@hale/protocol';
import { AccountError } from '../core/account-error';
import { createDeviceMeta } from '../store/device-meta';
import { deviceMetaStore } from '../store/meta-store';
import type { DeviceDb } from '../store/device-db';
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';

/** Drafts kept per device; past it the oldest is dropped. */
export const MAX_DRAFTS = 50;
/** Characters of one draft's values (as JSON): a long note and then some. */
export const MAX_DRAFT_CHARS = 256 * 1024;
const META_KEY = 'app-drafts';

/** The codes a `DraftError` carries; words and what to do are in `HALE_ERRORS`. */
export const DRAFT_ERROR_CODES = ['INVALID_DRAFT'] as const satisfies readonly HaleErrorCode[];
/** One of `DRAFT_ERROR_CODES`. */
export type DraftErrorCode = (typeof DRAFT_ERROR_CODES)[number];

export class DraftError extends HaleError {
  readonly code: DraftErrorCode;
  constructor(code: DraftErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'DraftError';
    this.code = code;
    if (field !== undefined) this.field = field;
  }
}

const DraftKey = Type.String({ minLength: 1, maxLength: 200 });
const DraftFieldValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
export const DraftValues = Type.Record(Type.String({ maxLength: 200 }), DraftFieldValue, {
  maxProperties: 500,
});
/** A form's values: field name → what was typed (text, a number, a box ticked, or nothing). */
export type DraftValues = Static<typeof DraftValues>;
const Entry = Type.Object({ values: DraftValues, at: Type.String({ maxLength: 40 }) });
const Stored = Type.Object({
  v: Type.Literal(1),
  drafts: Type.Record(DraftKey, Entry, { maxProperties: MAX_DRAFTS }),
});
type Stored = Static<typeof Stored>;

/** A form's unsaved typing as kept, and when. */
export interface DraftEntry {
  readonly values: DraftValues;
  /** When it was kept (ISO). */
  readonly at: string;
}

/**
 * Forms' unsaved typing (`session.drafts`), sealed in the device's meta and never synced; at most
 * `MAX_DRAFTS` of at most `MAX_DRAFT_CHARS` each.
 *
 * @throws `DraftError` `INVALID_DRAFT` for a key or values out of bounds.
 */
export interface HaleDrafts {
  /** The draft under `key`, or null. */
  get(key: string): Promise<DraftEntry | null>;
  /** Keeps `values` under `key`, replacing the draft there. */
  set(key: string, values: DraftValues): Promise<void>;
  /** Removes the draft under `key` (nothing when absent). */
  delete(key: string): Promise<void>;
  /** Every draft's key and when it was kept. */
  list(): Promise<readonly { readonly key: string; readonly at: string }[]>;
  /** Removes every draft. */
  clear(): Promise<void>;
}

const checkKey = (key: unknown): string => {
  if (!validate(DraftKey, key).ok)
    throw new DraftError('INVALID_DRAFT', 'a draft key is text of 1 to 200 characters', 'key');
  return key as string;
};

export function createDrafts(deps: {
  readonly db: DeviceDb;
  /** Throws (AccountError LOCKED) once the session is locked or closed. */
  readonly assertOpen: () => void;
  readonly now?: () => number;
}): HaleDrafts {
  const now = deps.now ?? Date.now;
  const meta = createDeviceMeta(deviceMetaStore(deps.db));
  const read = async (): Promise<Stored['drafts']> => {
    deps.assertOpen();
    return (await meta.get(META_KEY, Stored))?.drafts ?? {};
  };
  const change = async (edit: (drafts: Record<string, DraftEntry>) => void): Promise<void> => {
    deps.assertOpen();
    await meta.update(META_KEY, Stored, (current) => {
      const drafts: Record<string, DraftEntry> = { ...(current?.drafts ?? {}) };
      edit(drafts);
      return { v: 1 as const, drafts };
    });
  };
  return {
    async get(key) {
      const drafts = await read();
      return Object.prototype.hasOwnProperty.call(drafts, checkKey(key)) ? (drafts[key] ?? null) : null;
    },
    async set(key, values) {
      checkKey(key);
      if (!validate(DraftValues, values).ok) {
        throw new DraftError(
          'INVALID_DRAFT',
          "a draft's values are a form's fields: text, numbers, yes/no or nothing",
          'values',
        );
      }
      if (JSON.stringify(values).length > MAX_DRAFT_CHARS) {
        throw new DraftError('INVALID_DRAFT', 'this draft is too large to keep on the device', 'values');
      }
      await change((drafts) => {
        drafts[key] = { values: { ...values }, at: new Date(now()).toISOString() };
        const keys = Object.keys(drafts);
        if (keys.length <= MAX_DRAFTS) return;
        keys.sort((a, b) => (drafts[a]?.at ?? '').localeCompare(drafts[b]?.at ?? ''));
        for (const old of keys.slice(0, keys.length - MAX_DRAFTS)) delete drafts[old];
      });
    },
    async delete(key) {
      checkKey(key);
      await change((drafts) => {
        delete drafts[key];
      });
    },
    async list() {
      const drafts = await read();
      return Object.entries(drafts)
        .map(([key, entry]) => ({ key, at: entry.at }))
        .sort((a, b) => b.at.localeCompare(a.at));
    },
    async clear() {
      await change((drafts) => {
        for (const key of Object.keys(drafts)) delete drafts[key];
      });
    },
  };
}

export const lockedDrafts = (): AccountError =>
  new AccountError('LOCKED', 'the session is locked or closed: unlock to read or keep drafts');
