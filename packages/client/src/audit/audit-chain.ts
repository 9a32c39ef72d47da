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
 *   show that an author's newest entries were cut off, or that the whole log was rolled back and grew
 *   again. `verifyAuditLog` takes such positions (`reached`: per author, a position known stored, with the
 *   link hash of its entry when known) and reports a served chain ending below one, or holding another
 *   entry there, as `deleted`. The end served is the highest position any served entry of the author
 *   claims: one refused (reported as modified, inserted, unverified) is not reported missing too. But an
 *   entry not checkable now (`unverified`) stands only for what it shows without its author's key: a
 *   known position that no served entry claims is missing whatever is served past it, and one claimed
 *   only by such entries is missing unless one of them links as the entry verified there did (its link
 *   hash needs no key). Otherwise a server that cuts an author's entries and serves one unverifiable
 *   forgery at or past the known position (naming an account whose list it withholds) would pass the cut
 *   off as a look-up to try again.
 *   `verifyAuditChains` also answers each author's verified head (the highest position up to which its
 *   chain is whole, linked from position 1 and consistent with `reached`): what a verifying device may
 *   remember as reached.
 * - `verifyAuditChains` can verify only what was served after a part of the log it verified before
 *   (`base`: per author, the head of a chain verified whole, served ahead of the entries given): the
 *   base positions count as served once each and in order, the next entry must link to the base head,
 *   and a position of `reached` within the base is taken as checked then. For a base that verified with
 *   no problem and is still served as it was, the answer is the one the whole log would get; the caller
 *   must hold `reached` within the base to what it was checked against, and cannot tell from these
 *   entries whether the server still serves the base (audit-log.ts re-reads the whole log for that).
 * - An entry by a device its account revoked counts only when signed and dated (`audit.at`, covered by the
 *   signature) before the revocation (device-directory.ts: the device is refused by the server from then
 *   on, so only a thief of its key with the server's help could add one, dated back).
 * - A body is read only once `openAuditBody` has checked it against `AuditBody` (@hale/protocol), the
 *   schema its writers build it with (fields it does not name are dropped, for entries of newer builds).
 *   One whose frame matches (AuditEntry: kind, action, actor, time; the server's AccessEvent: also stream
 *   and count) opens without a detail field that does not (an older build's free text, a newer build's or
 *   server's value); one whose frame does not match opens as null, like one that does not open.
 * - Entries are told apart by author and chain position, never by id: ids are the server's to serve, and
 *   two served under one id (a forged copy beside the genuine entry) are each verified on their own. Of
 *   two that claim one position, the first served that verifies holds it; one that does not verify never
 *   displaces one that does.
 * Failure modes: `verifyAuditLog` never throws; it lists every problem with its kind — modified, deleted,
 * reordered, inserted, unverified — and the entry it concerns (for a cut-off end: the author's last served
 * entry, or '' when none of its entries is served). `unverified`: the author's key could not be looked up
 * now (its account's device list did not load), so the entry is neither trusted nor called forged; its
 * claimed position counts as present for the chain checks (no `deleted` for it), until checked again —
 * unless the position is known stored with a link hash the entry does not have (see above). What cannot be
 * told: where no position is known (an author this device never verified, or past what it verified), a
 * forgery that cannot be checked and a genuine entry whose author's list does not load look alike.
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
  type X25519,
} from '@hale/crypto';
import type { TSchema } from '@sinclair/typebox';
import { isInstantBefore, newId } from '@hale/model';
import {
  AccessEventBody,
  AuditBody,
  AuditEntryBody,
  auditSignaturePayload,
  validateTolerant,
  type PushDoc,
  type ServedDoc,
} from '@hale/protocol';

import type { AuthorKey, AuthorUnavailable } from '../sync/device-directory';

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
  /** The host's X25519 for sealing the body (tweetnacl by default). */
  x25519?: X25519;
  chain: ChainState;
  body: AuditBody;
  now: () => number;
  /** The entry's id, chosen before (audit-log.ts names a batch of noted changes by it); else a new one. */
  id?: string;
}): Promise<{ doc: PushDoc; chain: ChainState }> => {
  const ct = sealTo(input.patientWrappingKey, canonicalBytes(input.body), input.x25519);
  const at = new Date(input.now()).toISOString();
  const doc = {
    stream: `${input.patientId}/audit` as PushDoc['stream'],
    id: input.id ?? newId(input.now),
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
export const openAuditBody = (
  doc: Pick<ServedDoc, 'ct'>,
  patientKeys: BoxKeyPair,
  x25519?: X25519,
): AuditBody | null => {
  const bytes = base64urlDecode(doc.ct);
  if (!bytes.ok) return null;
  const opened = openSealed(patientKeys, bytes.value, x25519);
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

/**
 * Per body kind, its schema and the fields every entry of that kind has always carried (its frame):
 * without them an entry vouches for nothing.
 */
const FRAMES: Record<string, { properties: Record<string, TSchema>; frame: ReadonlySet<string> }> = {
  AuditEntry: {
    properties: AuditEntryBody.properties,
    frame: new Set(['kind', 'action', 'actorId', 'actorDeviceId', 'at']),
  },
  AccessEvent: {
    properties: AccessEventBody.properties,
    frame: new Set(['kind', 'action', 'actorId', 'actorDeviceId', 'at', 'stream', 'count']),
  },
};

/**
 * An entry a device appended through an older build's `append`, which took any detail (a free-text
 * `reason`, a long summary), or a newer build's (or newer server's) with a value this one does not know:
 * its frame must match, a detail field that does not is dropped. Views trust details only as far as the
 * entry's author anyway.
 */
const withoutBadDetails = (body: unknown): AuditBody | null => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const fields = body as Record<string, unknown>;
  const kind = fields['kind'];
  const shape = typeof kind === 'string' && Object.hasOwn(FRAMES, kind) ? FRAMES[kind] : undefined;
  if (shape === undefined) return null;
  const kept: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(fields)) {
    const schema = Object.hasOwn(shape.properties, field) ? shape.properties[field] : undefined;
    if (schema === undefined) continue;
    if (shape.frame.has(field) || validateTolerant(schema, value).ok) kept[field] = value;
  }
  const again = validateTolerant(AuditBody, kept);
  return again.ok ? again.value : null;
};

/**
 * `unverified`: the entry's author could not be looked up now (not evidence of tampering: verify again
 * later). The others are evidence that the log as served is not what its authors wrote.
 */
export type AuditProblemKind = 'modified' | 'deleted' | 'reordered' | 'inserted' | 'unverified';

export interface AuditProblem {
  kind: AuditProblemKind;
  entryId: string;
  author: string;
  authorSeq: number;
  detail: string;
}

/**
 * An entry signed by a grantee's certified device whose content does not open with the patient's key (or is
 * no AuditBody): its signature and place in its author's chain hold, so the log is whole; the entry only
 * says nothing readable. Not a problem (`ok` stays true): listed so a person sees who wrote it.
 */
export interface UnreadableAuditEntry {
  entryId: string;
  /** The device that signed it, and the account that certified that device. */
  author: string;
  authorAccountId: string;
  authorSeq: number;
  /** Its signed time (the author's clock). */
  at: string;
  /** What it means, in words for a person. */
  meaning: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  authors: number;
  problems: AuditProblem[];
  /** Grantee entries whose content is unreadable (absent when none): see UnreadableAuditEntry. */
  unreadable?: UnreadableAuditEntry[];
}

/** A chain position known stored, and the link hash (`chainLinkHash`) of its entry when known. */
export interface ReachedPosition {
  seq: number;
  hash?: string;
}

/** An author's chain verified whole from position 1 up to `seq`, whose entry there links as `hash`. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Verifies an audit stream as served (in server order). `authorKey` resolves an entry's author (a device
 * of the account named in its sealed body, or the server) to its public key, or null when unknown; a
 * revoked device's key comes with `revokedAt`, and its entries count only if their signed time (`audit.at`)
 * is before it (else `inserted`, as from an unknown author). `{ unavailable }`: the key could not be looked
 * up now; the entry is reported `unverified` and its claimed position is not called missing, unless it
 * is a position of `reached` whose link hash the entry does not have.
 * `reached` maps an author to the chain position it is known to have stored (0 or absent: nothing known),
 * with the link hash of its entry there when known: a served chain whose highest valid position is lower
 * lost its newest entries; one holding another entry there was rewritten from that position or earlier.
 */
export const verifyAuditLog = async (
  entries: readonly ServedDoc[],
  authorKey: (entry: ServedDoc) => Promise<Uint8Array | AuthorKey | AuthorUnavailable | null>,
  ed: Ed25519,
  reached: ReadonlyMap<string, number | ReachedPosition> = new Map(),
): Promise<AuditVerification> => (await verifyAuditChains(entries, authorKey, ed, reached)).verification;

/**
 * As `verifyAuditLog`, and each author's verified head (see the header): what a verifier may remember; and
 * the served entries reported `modified` or `inserted` (`refused`), by the entry served, not by its id: a
 * server can serve two entries under one id, and the one that verifies must not go with the one that does
 * not.
 */
/**
 * `e`'s signed payload and signature when the signature holds under `key` (its header as served), else null
 * (no header or signature, a signature that does not decode or does not match).
 */
const signatureUnder = async (
  e: ServedDoc,
  key: Uint8Array,
  ed: Ed25519,
): Promise<{ payload: ReturnType<typeof auditSignaturePayload>; sig: Uint8Array } | null> => {
  if (!e.audit || e.sig === undefined) return null;
  const payload = auditSignaturePayload({ ...e, audit: e.audit });
  const sig = base64urlDecode(e.sig);
  if (!sig.ok || !(await verifyCanonical(ed, key, payload.label, payload, sig.value))) return null;
  return { payload, sig: sig.value };
};

/**
 * The link hash of a served entry (`chainLinkHash` of its payload and signature): what the next entry of
 * its author names, and what a position known stored was verified to hold. Needs no key; null without a
 * header or a signature that decodes.
 */
export const linkOf = (e: ServedDoc): string | null => {
  const sig = base64urlDecode(e.sig ?? '');
  if (!sig.ok || e.audit === undefined) return null;
  return chainLinkHash(auditSignaturePayload({ ...e, audit: e.audit }), sig.value);
};

/** Whether `e`'s signature holds under `key`. */
export const signedUnder = async (e: ServedDoc, key: Uint8Array, ed: Ed25519): Promise<boolean> =>
  (await signatureUnder(e, key, ed)) !== null;

export const verifyAuditChains = async (
  entries: readonly ServedDoc[],
  authorKey: (entry: ServedDoc) => Promise<Uint8Array | AuthorKey | AuthorUnavailable | null>,
  ed: Ed25519,
  reached: ReadonlyMap<string, number | ReachedPosition> = new Map(),
  /**
   * Per author, a chain verified whole before, served ahead of `entries` (see the header): its positions
   * count as served, once each, in order, and the first of `entries` past it must link to its `hash`.
   */
  base: ReadonlyMap<string, ChainHead> = new Map(),
): Promise<{ verification: AuditVerification; heads: Map<string, ChainHead>; refused: Set<ServedDoc> }> => {
  const problems: AuditProblem[] = [];
  const refused = new Set<ServedDoc>();
  const report = (e: ServedDoc, kind: AuditProblemKind, detail: string): void => {
    problems.push({ kind, entryId: e.id, author: e.author, authorSeq: e.audit?.authorSeq ?? 0, detail });
    if (kind === 'modified' || kind === 'inserted') refused.add(e);
  };
  const known = new Map<string, ReachedPosition>();
  for (const [author, r] of reached) known.set(author, typeof r === 'number' ? { seq: r } : r);
  // Pass 1: signatures. Entries that fail are reported as modified and take no part in chain checks.
  interface Valid {
    e: ServedDoc;
    pos: number;
    prevHash: string | null;
    link: string;
  }
  const byAuthor = new Map<string, Valid[]>();
  /**
   * Entries whose author could not be looked up, by position: present as far as gaps go, but at a position
   * known stored with its link hash, only the entry verified there before stands for it (pass 3).
   */
  const unchecked = new Map<string, Map<number, ServedDoc[]>>();
  /** Per author, the highest position any served entry claims (reported or not): the end served. */
  const claimed = new Map<string, number>();
  for (const [author, head] of base) claimed.set(author, head.seq);
  /** Per author, every served entry with the position it claims (reported or not): gaps below a known one. */
  const claims = new Map<string, Array<{ pos: number; e: ServedDoc }>>();
  /** Per author, positions claimed by entries refused here (modified, inserted): reported as what they are. */
  const refusedAt = new Map<string, Set<number>>();
  const refuse = (e: ServedDoc, position: number, kind: AuditProblemKind, detail: string): void => {
    report(e, kind, detail);
    refusedAt.set(e.author, (refusedAt.get(e.author) ?? new Set()).add(position));
  };
  for (const e of entries) {
    if (!e.audit || e.sig === undefined) {
      report(e, 'inserted', 'entry has no audit header or signature');
      continue;
    }
    claimed.set(e.author, Math.max(claimed.get(e.author) ?? 0, e.audit.authorSeq));
    const claimsOf = claims.get(e.author) ?? [];
    claimsOf.push({ pos: e.audit.authorSeq, e });
    claims.set(e.author, claimsOf);
    const author = await authorKey(e);
    if (!author) {
      refuse(e, e.audit.authorSeq, 'inserted', `unknown author ${e.author}`);
      continue;
    }
    if ('unavailable' in author) {
      report(
        e,
        'unverified',
        `the key of ${e.author} could not be looked up now (${author.unavailable}): not checked; verify again later`,
      );
      const at = unchecked.get(e.author) ?? new Map<number, ServedDoc[]>();
      at.set(e.audit.authorSeq, [...(at.get(e.audit.authorSeq) ?? []), e]);
      unchecked.set(e.author, at);
      continue;
    }
    const { key, revokedAt } = author instanceof Uint8Array ? { key: author, revokedAt: undefined } : author;
    const signed = await signatureUnder(e, key, ed);
    if (signed === null) {
      refuse(
        e,
        e.audit.authorSeq,
        'modified',
        'signature does not match the entry (content or header changed)',
      );
      continue;
    }
    const { payload, sig } = signed;
    // The time is the signed one, so only the device's key (or its thief) could have chosen it. Ordered
    // as instants to the nanosecond (Date.parse keeps only the millisecond, and only three digits are
    // defined): a time that names no instant is not before the revocation, so it counts for nothing.
    if (revokedAt !== undefined && !isInstantBefore(e.audit.at, revokedAt)) {
      refuse(
        e,
        e.audit.authorSeq,
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
      link: chainLinkHash(payload, sig),
    });
    byAuthor.set(e.author, list);
  }
  // Pass 2: each author's chain — positions 1..n, each once, in order, each linked to its predecessor.
  const chains = new Map<string, { byPos: Map<number, Valid>; twice: Set<number> }>();
  for (const author of base.keys()) if (!byAuthor.has(author)) byAuthor.set(author, []);
  for (const [author, list] of byAuthor) {
    const byPos = new Map<number, Valid>();
    const twice = new Set<number>();
    const pending = unchecked.get(author) ?? new Map<number, ServedDoc[]>();
    chains.set(author, { byPos, twice });
    /** Positions 1..floor were served before `entries`, whole (`base`): the entry at floor links as `floorHash`. */
    const floor = base.get(author)?.seq ?? 0;
    const floorHash = base.get(author)?.hash ?? null;
    let maxSoFar = floor;
    for (const v of list) {
      if (v.pos <= floor || byPos.has(v.pos)) {
        twice.add(v.pos);
        report(v.e, 'inserted', `a second entry claims position ${v.pos} of ${author}'s chain`);
        continue;
      }
      byPos.set(v.pos, v);
      if (v.pos < maxSoFar)
        report(v.e, 'reordered', `position ${v.pos} is served after position ${maxSoFar}`);
      maxSoFar = Math.max(maxSoFar, v.pos);
    }
    const positions = [...byPos.keys()].sort((a, b) => a - b);
    for (const [i, pos] of positions.entries()) {
      const v = byPos.get(pos)!;
      const prev = byPos.get(pos - 1);
      if (pos > 1 && !prev && pos - 1 > floor) {
        // The gap starts past the previous position served (or the base): found from the sorted positions,
        // not by stepping down from `pos`, which a signed entry may set as high as 2^53 − 1.
        const first = Math.max(floor, positions[i - 1] ?? 0) + 1;
        // Served, but not checkable now (reported unverified): neither missing nor a link to check.
        let claimed = true;
        for (let p = first; p < pos && claimed; p++) claimed = pending.has(p);
        if (claimed) continue;
        report(
          v.e,
          'deleted',
          `position${first === pos - 1 ? '' : 's'} ${first === pos - 1 ? first : `${first}–${pos - 1}`} of ${author}'s chain ${first === pos - 1 ? 'is' : 'are'} missing before this entry`,
        );
        continue;
      }
      const expectedHash = pos === 1 ? null : pos - 1 === floor ? floorHash : prev!.link;
      if (v.prevHash !== expectedHash)
        report(v.e, 'inserted', 'does not link to the previous entry of its author');
    }
  }
  // Pass 3: chain ends. Gaps inside a chain show up in pass 2; a cut-off end, or a chain rolled back and
  // grown again, leaves no trace in what is served, so it is caught only against a known position. The
  // end served is the highest position any entry claims: one refused is reported as what it is. Entries
  // not checkable now stand for no more than they can show without their author's key: a position they
  // claim, and at a position known with its link hash, whether they are the entry verified there.
  for (const [author, { seq: position, hash }] of known) {
    if (position <= 0) continue;
    const floor = base.get(author)?.seq ?? 0;
    // Within a base chain: checked when it was verified (the caller holds `reached` to it).
    if (position <= floor) continue;
    const list = byAuthor.get(author) ?? [];
    const last = list.reduce<Valid | null>((top, v) => (top === null || v.pos > top.pos ? v : top), null);
    // An entry served at the position but refused (reported above) is not missing from the log.
    const top = claimed.get(author) ?? 0;
    // Known stored, claimed by no served entry, and past the last entry that verified (gaps below one are
    // pass 2's): missing, however high entries refused or not checkable now claim to go. Found from the
    // sorted claims, in time that does not grow with the positions.
    const upto = Math.min(position, top);
    const after = (claims.get(author) ?? [])
      .filter((c) => c.pos > Math.max(floor, last?.pos ?? 0) && c.pos <= upto)
      .sort((a, b) => a.pos - b.pos);
    let from = Math.max(floor, last?.pos ?? 0) + 1;
    for (const next of [...after, null]) {
      const to = next === null ? upto : next.pos - 1;
      if (to >= from) {
        const one = from === to;
        problems.push({
          kind: 'deleted',
          entryId: next?.e.id ?? '',
          author,
          authorSeq: from,
          detail: `position${one ? '' : 's'} ${one ? from : `${from}–${to}`} of ${author}'s chain ${one ? 'was' : 'were'} stored but ${one ? 'is' : 'are'} not served (what is served past ${one ? 'it' : 'them'} was refused or could not be checked now)`,
        });
      }
      if (next !== null) from = Math.max(from, next.pos + 1);
    }
    if (top >= position) {
      if (hash === undefined) continue;
      const there = chains.get(author)?.byPos.get(position);
      if (there !== undefined) {
        if (there.link === hash) continue;
        problems.push({
          kind: 'deleted',
          entryId: there.e.id,
          author,
          authorSeq: position,
          detail: `the entry at position ${position} of ${author}'s chain that was verified before is no longer served: another entry holds its place (the chain was rewritten from that position or earlier)`,
        });
        continue;
      }
      // Claimed there only by entries not checkable now: the one verified before is among them only if
      // one links as it did, which needs no key. One refused there is reported as what it is.
      const standIns = unchecked.get(author)?.get(position) ?? [];
      if (standIns.length === 0 || refusedAt.get(author)?.has(position) === true) continue;
      if (standIns.some((e) => linkOf(e) === hash)) continue;
      problems.push({
        kind: 'deleted',
        entryId: standIns[0]!.id,
        author,
        authorSeq: position,
        detail: `the entry at position ${position} of ${author}'s chain that was verified before is no longer served: another entry, which could not be checked now, claims its place (the chain was cut or rewritten there)`,
      });
      continue;
    }
    const one = top + 1 === position;
    problems.push({
      kind: 'deleted',
      entryId: last?.e.id ?? '',
      author,
      authorSeq: top + 1,
      detail: `position${one ? '' : 's'} ${one ? position : `${top + 1}–${position}`} of ${author}'s chain ${one ? 'was' : 'were'} stored but ${one ? 'is' : 'are'} missing from the end of the log`,
    });
  }
  // Heads: how far each chain is whole from position 1, linked, claimed once, and where a position is
  // known with its hash, holding that very entry (past a rewritten position nothing is consistent).
  const heads = new Map<string, ChainHead>();
  for (const [author, { byPos, twice }] of chains) {
    const mark = known.get(author);
    const floor = base.get(author);
    let prev: string | null = null;
    let pos = 1;
    if (floor !== undefined && floor.seq > 0) {
      // A second entry claiming a position of the base chain cuts the head there, as it would served whole.
      const cut = [...twice].filter((p) => p <= floor.seq).reduce((m, p) => Math.min(m, p), Infinity);
      // Whose link there is not known here: no head (nothing to remember; the log is not whole anyway).
      if (cut <= floor.seq) continue;
      heads.set(author, { seq: floor.seq, hash: floor.hash });
      prev = floor.hash;
      pos = floor.seq + 1;
    }
    for (; ; pos++) {
      const v = byPos.get(pos);
      if (v === undefined || twice.has(pos) || v.prevHash !== prev) break;
      if (mark?.hash !== undefined && mark.seq === pos && v.link !== mark.hash) break;
      heads.set(author, { seq: pos, hash: v.link });
      prev = v.link;
    }
  }
  return {
    verification: { ok: problems.length === 0, entries: entries.length, authors: byAuthor.size, problems },
    heads,
    refused,
  };
};
