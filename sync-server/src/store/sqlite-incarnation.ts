/*
 * The SQLite store's identity in `meta`: its incarnation and what the last restore recorded.
 *
 * | key | written by | read by |
 * | --- | --- | --- |
 * | INCARNATION_META_KEY | init (first open), restore (backup.ts) | `ready`, keptFrom (sqlite-docs.ts) |
 * | RESTORE_ORIGIN_META_KEY | restore (restore-carry.ts) only | keptFrom (sqlite-docs.ts) |
 *
 * Invariants: once init has run, meta holds the incarnation; only a restore replaces it. A malformed origin
 * reads as none (null), never as an error.
 */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { Incarnation, validate } from '@hale/protocol';

/**
 * `meta` key of the store's incarnation: a random id created at the store's first open and replaced by
 * every restore (backup.ts). The server sends it in `ready`, so
 * devices notice that the store went back to a backup.
 */
export const INCARNATION_META_KEY = 'incarnation';

/**
 * `meta` key of what the last restore recorded besides `restored_heads`: JSON `{ into, from }`, the
 * incarnation it gave the store and the one of the store the backup was taken of (RestoreOrigin).
 */
export const RESTORE_ORIGIN_META_KEY = 'restore-origin';

export const RestoreOrigin = Type.Object(
  { into: Incarnation, from: Incarnation },
  { additionalProperties: false },
);

/** A fresh incarnation id (16 random bytes, base64url: what the protocol's `Incarnation` accepts). */
export const newIncarnation = (): string => randomBytes(16).toString('base64url');

/** The restore origin stored under RESTORE_ORIGIN_META_KEY; null when absent or malformed. */
export const restoreOrigin = (value: string | undefined): { into: string; from: string } | null => {
  if (value === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const checked = validate(RestoreOrigin, parsed);
  return checked.ok ? checked.value : null;
};
