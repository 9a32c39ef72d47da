/**
 * Page cursors (paging.ts in @hale/protocol): the server writes a position as base64url of the UTF-8 JSON
 * of a cursor payload and reads it back when a device continues a walk.
 *
 * Invariants: a cursor is read back only if it is exactly what this codec writes for a payload that its
 * schema accepts: strict base64url (it must encode back to the same text), valid UTF-8, JSON, and a closed
 * payload of the listing asked for. Nothing in it is trusted beyond that: every listing still runs under
 * the caller's own account, so a forged cursor can only move the caller within its own listing.
 * Failure modes: anything else is BAD_CURSOR (400), never INTERNAL; the caller lists again from the first
 * page. (Text that is not even PageCursor-shaped was refused by the request's schema before this.)
 */
import type { Static, TSchema } from '@sinclair/typebox';
import {
  validate,
  type AcceptedCursorPayload,
  type DirectoryCursorPayload,
  type GrantsCursorPayload,
  type StreamsCursorPayload,
} from '@hale/protocol';
import { decodeBase64url } from './base64url';
import { ServiceError } from './service-error';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export const encodeCursor = (
  payload: GrantsCursorPayload | DirectoryCursorPayload | AcceptedCursorPayload | StreamsCursorPayload,
): string => Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');

/** The payload of `cursor` if it is one `encodeCursor` wrote of a `schema` payload; BAD_CURSOR otherwise. */
export function decodeCursor<T extends TSchema>(schema: T, cursor: string, listing: string): Static<T> {
  const refuse = (why: string) =>
    new ServiceError(
      'BAD_CURSOR',
      `not a ${listing} cursor of this server (${why}): list from the first page`,
    );
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64url(cursor, 'cursor');
  } catch {
    throw refuse('not base64url');
  }
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw refuse('not JSON');
  }
  const checked = validate(schema, value);
  if (!checked.ok) throw refuse(checked.error.message);
  return checked.value;
}
