/*
 * The signed grants an account issued and received, as `grants` pages list them (`listGrantsPage`).
 *
 * Invariants:
 * - A page fits the `grants` schema and MAX_FRAME_BYTES whatever is stored: ended grants are read at
 *   most one page's worth, by key, never by offset.
 * - A damaged row is left out, never sent, and still moves a page's cursor past it.
 * - A replaced grant is listed ended (`revokedAt`, the server's time of its end) with its replacement's
 *   signed grant whole (`supersededBy`), so the record proves the end by itself; each replacement is read
 *   once per answer.
 *
 * Failure modes: BAD_CURSOR for a cursor of another walk (other side or active filters, or not this
 * server's).
 */
import {
  DEFAULT_GRANTS_PAGE,
  GrantsCursorPayload,
  MAX_CURSOR_CHARS,
  MAX_FRAME_BYTES,
  SignedGrant,
  SignedRevocation,
  supersedesGrant,
  validate,
  type GrantListSide,
  type GrantRecord,
} from '@hale/protocol';
import type { Grant } from '../store/index';
import { ServiceError } from './service-error';
import { decodeCursor, encodeCursor } from './page-cursor';
import type { Principal } from './access';
import type { SyncContext } from './sync-context';

/** Room kept in a `grants` answer for everything but its records (`{"t":"grants","rid":…,"grants":[]}`). */
const GRANTS_FRAME_OVERHEAD_BYTES = 1024;

/** The signed grant of the grant `grantId` as stored, or null (none, or damaged). */
type SuccessorLookup = (grantId: string) => Promise<SignedGrant | null>;

/**
 * A stored grant as `grants` lists it, or null for a damaged row. Grants are stored only after the codec
 * and the signature check accepted them; they are checked again on the way out so a damaged row is left
 * out rather than sent. A replaced grant carries its replacement's signed grant (`supersededBy`) when that
 * is stored, reads as one and names it (`supersedesGrant`); else it is listed ended without it.
 */
const grantRecordOf = async (g: Grant, successorOf: SuccessorLookup): Promise<GrantRecord | null> => {
  const signed = validate(SignedGrant, g.signed);
  if (!signed.ok) return null;
  const record: GrantRecord = { grant: signed.value };
  if (g.revokedAt !== undefined) record.revokedAt = g.revokedAt;
  if (g.revocation !== undefined) {
    const revocation = validate(SignedRevocation, g.revocation);
    if (revocation.ok) record.revocation = revocation.value;
  }
  if (g.supersededBy !== undefined) {
    const successor = await successorOf(g.supersededBy);
    if (successor !== null && supersedesGrant(successor.grant, signed.value.grant)) {
      record.supersededBy = successor;
    }
  }
  return record;
};

/** Successor lookups of one answer: each read once (a page may list a grant and the one it replaced). */
const successorLookups = (store: SyncContext['store']): SuccessorLookup => {
  const seen = new Map<string, Promise<SignedGrant | null>>();
  return (grantId) => {
    let hit = seen.get(grantId);
    if (hit === undefined) {
      hit = store.grants.get(grantId).then((stored) => {
        if (stored === null) return null;
        const signed = validate(SignedGrant, stored.signed);
        return signed.ok ? signed.value : null;
      });
      seen.set(grantId, hit);
    }
    return hit;
  };
};
/** The record's UTF-8 length in the frame, plus its separating comma. */
const recordBytes = (record: GrantRecord): number => Buffer.byteLength(JSON.stringify(record)) + 1;

export const createGrantLists = ({ store, iso }: SyncContext) => {
  /**
   * One page of `listGrants` (paging.ts): the grants the caller
   * issued, then those it received (or the one `side`), each newest issued first (`issuedAt`, `grantId`
   * descending), strictly after `cursor`; with `active` only those unended now. At most `limit`
   * (DEFAULT_GRANTS_PAGE) records and MAX_FRAME_BYTES; `next` when a grant past the page was read (one
   * more is read to know). Damaged rows are left out but passed, so they never stall a walk. BAD_CURSOR
   * when `cursor` is not a `listGrants` cursor of this server for the same `side` and `active`.
   */
  const listGrantsPage = async (
    p: Principal,
    request: { cursor?: string; limit?: number; side?: GrantListSide; active?: boolean },
  ): Promise<{ grants: GrantRecord[]; next?: string }> => {
    const limit = request.limit ?? DEFAULT_GRANTS_PAGE;
    const active = request.active ?? false;
    const only = request.side;
    const sides: GrantListSide[] = only === undefined ? ['issued', 'received'] : [only];
    let last: { side: GrantListSide; issuedAt: string; grantId: string } | undefined;
    if (request.cursor !== undefined) {
      const from = decodeCursor(GrantsCursorPayload, request.cursor, 'listGrants');
      if (from.only !== only || from.active !== active || !sides.includes(from.side)) {
        throw new ServiceError(
          'BAD_CURSOR',
          'this cursor continues a listGrants walk with other side or active filters: repeat them, or start over',
        );
      }
      last = { side: from.side, issuedAt: from.issuedAt, grantId: from.grantId };
    }
    const out: GrantRecord[] = [];
    const page = (): { grants: GrantRecord[]; next?: string } => {
      // A page is cut only after at least one row was passed, so `last` is set here.
      if (last === undefined) return { grants: out };
      const payload: GrantsCursorPayload = { v: 1, k: 'grants', ...last, active };
      if (only !== undefined) payload.only = only;
      return { grants: out, next: encodeCursor(payload) };
    };
    const at = iso();
    const successorOf = successorLookups(store);
    let bytes = GRANTS_FRAME_OVERHEAD_BYTES + MAX_CURSOR_CHARS;
    for (const side of sides.slice(last === undefined ? 0 : sides.indexOf(last.side))) {
      const of = side === 'issued' ? { patientId: p.accountId } : { granteeId: p.accountId };
      // Again while rows left out as damaged leave the page short and the side may hold more.
      for (;;) {
        const want = limit - out.length + 1;
        const after = last?.side === side ? { issuedAt: last.issuedAt, grantId: last.grantId } : undefined;
        const rows = await store.grants.listPage(of, {
          limit: want,
          ...(after === undefined ? {} : { after }),
          ...(active ? { unendedAt: at } : {}),
        });
        for (const g of rows) {
          if (out.length >= limit) return page();
          const record = await grantRecordOf(g, successorOf);
          if (record !== null) {
            const size = recordBytes(record);
            if (bytes + size > MAX_FRAME_BYTES && out.length > 0) return page();
            bytes += size;
            out.push(record);
          }
          last = { side, issuedAt: g.issuedAt, grantId: g.grantId };
        }
        if (rows.length < want) break;
      }
    }
    return { grants: out };
  };

  return { listGrantsPage };
};
