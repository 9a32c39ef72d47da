/**
 * Audit entries: signed, hash-chained per author, bodies sealed to the patient; and their verification.
 *
 * Invariants:
 * - Each author (a device, or the server) numbers its entries 1, 2, 3… in a patient's audit stream and
 *   links each to its previous one by `prevHash = chainLinkHash(payload, sig)` of that entry. Per-author
 *   chains never fork when devices work offline, and the server cannot splice entries in or out unseen.
 * - The signature covers the header, the routing fields and the sealed body (`ct`), so a modified entry
 *   fails verification; only the patient's wrapping key opens the body.
 * - A chain's end is only checkable against a position known from elsewhere: the served log alone cannot
 *   show that an author's newest entries were cut off. `verifyAuditLog` takes such positions (`reached`:
 *   what the verifying device knows the server acknowledged of its own chain) and reports a served chain
 *   ending below one as `deleted`.
 * - An entry by a device its account revoked counts only when signed and dated (`audit.at`, covered by the
 *   signature) before the revocation (device-directory.ts: the device is refused by the server from then
 *   on, so only a thief of its key with the server's help could add one, dated back).
 * - A body is read only once `openAuditBody` has checked it against `AuditBody` (@hale/protocol), the
 *   schema its writers build it with (fields it does not name are dropped, for entries of newer builds);
 *   one that does not match opens as null, like one that does not open.
 * Failure modes: `verifyAuditLog` never throws; it lists every problem with its kind — modified, deleted,
 * reordered, inserted — and the entry it concerns (for a cut-off end: the author's last served entry, or
 * '' when none of its entries is served).
 */
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  chainLinkHash,
  hexEncode,
  openSealed,
  sealTo,
  sha256,
  signCanonical,
  utf8Decode,
  verifyCanonical,
  type BoxKeyPair,
  type Ed25519,
} from '@hale/crypto';
import type { TSchema } from '@sinclair/typebox';
import { newId } from '@hale/model';
import {
  AuditBody,
  AuditEntryBody,
  auditSignaturePayload,
  validateTolerant,
  type PushDoc,
  type ServedDoc,
} from '@hale/protocol';

import type { AuthorKey } from '../sync/device-directory';

export type { AuditBody } from '@hale/protocol';

export interface ChainState {
  seq: number;
  hash: string | null;
}

export const makeAuditEntry = async (input: {
  patientId: string;
  patientWrappingKey: Uint8Array;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  chain: ChainState;
  body: AuditBody;
  now: () => number;
}): Promise<{ doc: PushDoc; chain: ChainState }> => {
  const ct = sealTo(input.patientWrappingKey, canonicalBytes(input.body));
  const at = new Date(input.now()).toISOString();
  const doc = {
    stream: `${input.patientId}/audit` as PushDoc['stream'],
    id: newId(input.now),
    rev: `1-${hexEncode(sha256(ct)).slice(0, 24)}`,
    deleted: false,
    epoch: 0,
    ct: base64urlEncode(ct),
    author: input.device.deviceId,
    audit: { authorSeq: input.chain.seq + 1, prevHash: input.chain.hash, at },
  };
  const payload = auditSignaturePayload(doc);
  const sig = await signCanonical(input.ed, input.device.secretKey, payload.label, payload);
  return {
    doc: { ...doc, sig: base64urlEncode(sig) },
    chain: { seq: input.chain.seq + 1, hash: chainLinkHash(payload, sig) },
  };
};

/**
 * The sealed body of an audit entry, opened with the patient's wrapping key and checked against the
 * protocol's `AuditBody` schema (unknown fields dropped); null when it does not open, is no JSON, or does
 * not match the schema
 * (callers treat all three alike: the entry vouches for nothing).
 */
export const openAuditBody = (doc: Pick<ServedDoc, 'ct'>, patientKeys: BoxKeyPair): AuditBody | null => {
  const bytes = base64urlDecode(doc.ct);
  if (!bytes.ok) return null;
  const opened = openSealed(patientKeys, bytes.value);
  if (!opened.ok) return null;
  const text = utf8Decode(opened.value);
  if (!text.ok) return null;
  let body: unknown;
  try {
    body = JSON.parse(text.value);
  } catch {
    return null;
  }
  // Tolerant: a field a newer build added is dropped, so its entries do not read as forged here.
  const checked = validateTolerant(AuditBody, body);
  if (checked.ok) return checked.value;
  return withoutBadDetails(body);
};

/** The fields every device-written entry has always carried: without them, an entry vouches for nothing. */
const ENTRY_FRAME: ReadonlySet<string> = new Set(['kind', 'action', 'actorId', 'actorDeviceId', 'at']);

/**
 * An entry a device appended through an older build's `append`, which took any detail (a free-text
 * `reason`, a long summary), or a newer build's with a value this one does not know: its frame must match,
 * a detail field that does not is dropped. Views trust details only as far as the entry's author anyway.
 */
const withoutBadDetails = (body: unknown): AuditBody | null => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const fields = body as Record<string, unknown>;
  if (fields['kind'] !== 'AuditEntry') return null;
  const schemas: Record<string, TSchema> = AuditEntryBody.properties;
  const kept: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(fields)) {
    const schema = schemas[field];
    if (schema === undefined) continue;
    if (ENTRY_FRAME.has(field) || validateTolerant(schema, value).ok) kept[field] = value;
  }
  const again = validateTolerant(AuditEntryBody, kept);
  return again.ok ? again.value : null;
};

export type AuditProblemKind = 'modified' | 'deleted' | 'reordered' | 'inserted';

export interface AuditProblem {
  kind: AuditProblemKind;
  entryId: string;
  author: string;
  authorSeq: number;
  detail: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  authors: number;
  problems: AuditProblem[];
}

/**
 * Verifies an audit stream as served (in server order). `authorKey` resolves an entry's author (a device
 * of the account named in its sealed body, or the server) to its public key, or null when unknown; a
 * revoked device's key comes with `revokedAt`, and its entries count only if their signed time (`audit.at`)
 * is before it (else `inserted`, as from an unknown author).
 * `reached` maps an author to the chain position it is known to have stored (0 or absent: nothing known);
 * a served chain whose highest valid position is lower lost its newest entries.
 */
export const verifyAuditLog = async (
  entries: readonly ServedDoc[],
  authorKey: (entry: ServedDoc) => Promise<Uint8Array | AuthorKey | null>,
  ed: Ed25519,
  reached: ReadonlyMap<string, number> = new Map(),
): Promise<AuditVerification> => {
  const problems: AuditProblem[] = [];
  const report = (e: ServedDoc, kind: AuditProblemKind, detail: string): void => {
    problems.push({ kind, entryId: e.id, author: e.author, authorSeq: e.audit?.authorSeq ?? 0, detail });
  };
  // Pass 1: signatures. Entries that fail are reported as modified and take no part in chain checks.
  interface Valid {
    e: ServedDoc;
    pos: number;
    prevHash: string | null;
    link: string;
  }
  const byAuthor = new Map<string, Valid[]>();
  for (const e of entries) {
    if (!e.audit || e.sig === undefined) {
      report(e, 'inserted', 'entry has no audit header or signature');
      continue;
    }
    const author = await authorKey(e);
    if (!author) {
      report(e, 'inserted', `unknown author ${e.author}`);
      continue;
    }
    const { key, revokedAt } = author instanceof Uint8Array ? { key: author, revokedAt: undefined } : author;
    const payload = auditSignaturePayload({ ...e, audit: e.audit });
    const sig = base64urlDecode(e.sig);
    if (!sig.ok || !(await verifyCanonical(ed, key, payload.label, payload, sig.value))) {
      report(e, 'modified', 'signature does not match the entry (content or header changed)');
      continue;
    }
    // The time is the signed one, so only the device's key (or its thief) could have chosen it.
    if (revokedAt !== undefined && !(Date.parse(e.audit.at) < Date.parse(revokedAt))) {
      report(
        e,
        'inserted',
        `signed by ${e.author} at ${e.audit.at}, not before its revocation at ${revokedAt}`,
      );
      continue;
    }
    const list = byAuthor.get(e.author) ?? [];
    list.push({
      e,
      pos: e.audit.authorSeq,
      prevHash: e.audit.prevHash,
      link: chainLinkHash(payload, sig.value),
    });
    byAuthor.set(e.author, list);
  }
  // Pass 2: each author's chain — positions 1..n, each once, in order, each linked to its predecessor.
  for (const [author, list] of byAuthor) {
    const byPos = new Map<number, Valid>();
    let maxSoFar = 0;
    for (const v of list) {
      if (byPos.has(v.pos)) {
        report(v.e, 'inserted', `a second entry claims position ${v.pos} of ${author}'s chain`);
        continue;
      }
      byPos.set(v.pos, v);
      if (v.pos < maxSoFar)
        report(v.e, 'reordered', `position ${v.pos} is served after position ${maxSoFar}`);
      maxSoFar = Math.max(maxSoFar, v.pos);
    }
    const positions = [...byPos.keys()].sort((a, b) => a - b);
    for (const pos of positions) {
      const v = byPos.get(pos)!;
      const prev = byPos.get(pos - 1);
      if (pos > 1 && !prev) {
        let first = pos - 1;
        while (first > 1 && !byPos.has(first - 1)) first--;
        report(
          v.e,
          'deleted',
          `position${first === pos - 1 ? '' : 's'} ${first === pos - 1 ? first : `${first}–${pos - 1}`} of ${author}'s chain ${first === pos - 1 ? 'is' : 'are'} missing before this entry`,
        );
        continue;
      }
      const expectedHash = pos === 1 ? null : prev!.link;
      if (v.prevHash !== expectedHash)
        report(v.e, 'inserted', 'does not link to the previous entry of its author');
    }
  }
  // Pass 3: chain ends. Gaps inside a chain show up in pass 2; a cut-off end leaves no trace in what is
  // served, so it is caught only against a position the author is known to have reached.
  for (const [author, position] of reached) {
    const list = byAuthor.get(author) ?? [];
    const last = list.reduce<Valid | null>((top, v) => (top === null || v.pos > top.pos ? v : top), null);
    const top = last?.pos ?? 0;
    if (top >= position) continue;
    const one = top + 1 === position;
    problems.push({
      kind: 'deleted',
      entryId: last?.e.id ?? '',
      author,
      authorSeq: top + 1,
      detail: `position${one ? '' : 's'} ${one ? position : `${top + 1}–${position}`} of ${author}'s chain ${one ? 'was' : 'were'} stored but ${one ? 'is' : 'are'} missing from the end of the log`,
    });
  }
  return { ok: problems.length === 0, entries: entries.length, authors: byAuthor.size, problems };
};
