/**
 * Verifying an audit stream as served: signatures, then each author's chain (positions 1, 2, … each once,
 * in order, each linked to the one before by `prevHash`), then chain ends against positions known stored.
 * Entries themselves (made, opened, link hash): audit-entry.ts.
 *
 * | problem | when |
 * | ------- | ---- |
 * | `modified` | the signature does not hold under the author's key (content or header changed) |
 * | `inserted` | no header or signature; unknown author; a revoked device's entry signed at or after its cutoff; a second entry at a position; not linked to the one before |
 * | `reordered` | a position served after a later one |
 * | `deleted` | positions missing inside a chain; a chain ending below a position known stored (`reached`), or holding another entry there (rolled back and grown again) |
 * | `unverified` | the author's key could not be looked up now: neither trusted nor called forged |
 *
 * - A chain's end is checkable only against a position known from elsewhere (`reached`: per author, a
 *   position known stored, with its link hash when known). The end served is the highest position any
 *   served entry claims: one refused is reported as what it is, not also as missing.
 * - An `unverified` entry counts as present for gaps, but stands only for what it shows without a key: a
 *   known position no served entry claims is missing whatever is served past it, and one claimed only by
 *   such entries is missing unless one of them links as the entry verified there did.
 * - An entry by a revoked device counts only when signed and dated (`audit.at`, signed) before the
 *   revocation, compared as instants to the nanosecond; a time that names no instant counts for nothing.
 * - `base`: per author, a chain verified whole before and served ahead of `entries`; its positions count as
 *   served once each, and the next entry must link to its head. For a base still served as it was, the
 *   answer is the whole log's; the caller holds `reached` within the base to what it was checked against.
 * - Entries are told apart by author and position, never by id: of two claiming one position, the first
 *   served that verifies holds it; one that does not verify never displaces one that does.
 * - Heads: how far each chain is whole from position 1, linked, claimed once, and consistent with `reached`
 *   (what a verifier may remember as reached).
 * - Signatures are checked up to VERIFY_WINDOW at a time (an asynchronous Ed25519, WebCrypto's, works on
 *   them together); problems are reported in served order whatever order the checks end in.
 * - Never throws; positions up to 2^53 − 1 are checked in time that does not grow with the position.
 */
import { isInstantBefore } from '@hale/model';
import type { Ed25519 } from '@hale/crypto';
import type { ServedDoc } from '@hale/protocol';
import type { AuthorKey, AuthorUnavailable } from '../sync/device-directory';
import { linkOf, linkOfSigned, signedBytes } from './audit-entry';

export {
  linkOf,
  makeAuditEntry,
  openAuditBody,
  signedUnder,
  type AuditBody,
  type ChainState,
} from './audit-entry';

/** Signature checks under way at once. */
const VERIFY_WINDOW = 64;

/**
 * `unverified`: the entry's author could not be looked up now (not evidence of tampering: verify again
 * later). The others are evidence that the log as served is not what its authors wrote.
 */
export type AuditProblemKind = 'modified' | 'deleted' | 'reordered' | 'inserted' | 'unverified';

/**
 * One problem `verify()` found in the audit log: the entry it concerns and its kind (`AuditProblemKind`):
 * - `modified`: the signature does not match.
 * - `inserted`: unknown or revoked author, a second entry at a position, not linked to the one before.
 * - `reordered`: entries out of order.
 * - `deleted`: positions missing, a chain cut or rolled back.
 * - `unverified`: the author's device list could not be loaded now; not evidence of tampering, verify again
 *   later.
 */
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

/**
 * What `verify()` answers; a log that fails its checks is an answer, never a throw.
 * - `ok` is true only when `problems` is empty.
 * - `entries` and `authors` count what was verified.
 */
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

/** An entry whose signature holds, as the chain checks see it. */
interface Valid {
  e: ServedDoc;
  pos: number;
  prevHash: string | null;
  link: string;
}

/** What the passes find and share: each pass reads the ones before it. */
interface Found {
  readonly problems: AuditProblem[];
  /** Entries reported `modified` or `inserted`, as served (not by id). */
  readonly refused: Set<ServedDoc>;
  /** Per author, its entries whose signature holds, in served order. */
  readonly byAuthor: Map<string, Valid[]>;
  /** Per author and position, entries whose author could not be looked up. */
  readonly unchecked: Map<string, Map<number, ServedDoc[]>>;
  /** Per author, the highest position any served entry claims (reported or not): the end served. */
  readonly claimed: Map<string, number>;
  /** Per author, every served entry with the position it claims (reported or not). */
  readonly claims: Map<string, Array<{ pos: number; e: ServedDoc }>>;
  /** Per author, positions claimed by entries refused here (modified, inserted). */
  readonly refusedAt: Map<string, Set<number>>;
  /** Per author, its chain by position (pass 2), and positions claimed twice. */
  readonly chains: Map<string, { byPos: Map<number, Valid>; twice: Set<number> }>;
}

const report = (found: Found, e: ServedDoc, kind: AuditProblemKind, detail: string): void => {
  found.problems.push({ kind, entryId: e.id, author: e.author, authorSeq: e.audit?.authorSeq ?? 0, detail });
  if (kind === 'modified' || kind === 'inserted') found.refused.add(e);
};

const refuse = (
  found: Found,
  e: ServedDoc,
  position: number,
  kind: AuditProblemKind,
  detail: string,
): void => {
  report(found, e, kind, detail);
  found.refusedAt.set(e.author, (found.refusedAt.get(e.author) ?? new Set()).add(position));
};

type AuthorKeyOf = (entry: ServedDoc) => Promise<Uint8Array | AuthorKey | AuthorUnavailable | null>;

/** One entry's outcome in pass 1, reported in served order once every check has ended. */
type Outcome =
  | { e: ServedDoc; report: AuditProblemKind; detail: string; refuseAt: boolean }
  | {
      e: ServedDoc;
      audit: NonNullable<ServedDoc['audit']>;
      ok: Promise<boolean>;
      link: string;
      revokedAt?: string;
    };

/**
 * Pass 1: signatures. Authors are looked up one entry after another, in served order (`authorKey` may
 * note what it answered); signatures are checked VERIFY_WINDOW at a time. Entries that fail take no part
 * in the chain checks.
 */
const checkSignatures = async (
  found: Found,
  entries: readonly ServedDoc[],
  authorKey: AuthorKeyOf,
  ed: Ed25519,
): Promise<void> => {
  const outcomes: Outcome[] = [];
  const checks: Promise<boolean>[] = [];
  for (const e of entries) {
    if (!e.audit || e.sig === undefined) {
      outcomes.push({
        e,
        report: 'inserted',
        detail: 'entry has no audit header or signature',
        refuseAt: false,
      });
      continue;
    }
    const pos = e.audit.authorSeq;
    found.claimed.set(e.author, Math.max(found.claimed.get(e.author) ?? 0, pos));
    const claimsOf = found.claims.get(e.author) ?? [];
    claimsOf.push({ pos, e });
    found.claims.set(e.author, claimsOf);
    const author = await authorKey(e);
    if (!author) {
      outcomes.push({ e, report: 'inserted', detail: `unknown author ${e.author}`, refuseAt: true });
      continue;
    }
    if ('unavailable' in author) {
      outcomes.push({
        e,
        report: 'unverified',
        detail: `the key of ${e.author} could not be looked up now (${author.unavailable}): not checked; verify again later`,
        refuseAt: false,
      });
      const at = found.unchecked.get(e.author) ?? new Map<number, ServedDoc[]>();
      at.set(pos, [...(at.get(pos) ?? []), e]);
      found.unchecked.set(e.author, at);
      continue;
    }
    const { key, revokedAt } = author instanceof Uint8Array ? { key: author, revokedAt: undefined } : author;
    const signed = signedBytes(e);
    if (signed === null) {
      outcomes.push({ e, report: 'modified', detail: MODIFIED, refuseAt: true });
      continue;
    }
    const ok = ed.verify(key, signed.message, signed.sig);
    // Awaited in served order below; a rejection still surfaces there.
    ok.catch(() => undefined);
    checks.push(ok);
    if (checks.length > VERIFY_WINDOW) await checks[checks.length - 1 - VERIFY_WINDOW];
    outcomes.push({
      e,
      audit: e.audit,
      ok,
      link: linkOfSigned(signed),
      ...(revokedAt === undefined ? {} : { revokedAt }),
    });
  }
  for (const o of outcomes) {
    if ('report' in o) {
      if (o.refuseAt) refuse(found, o.e, o.e.audit?.authorSeq ?? 0, o.report, o.detail);
      else report(found, o.e, o.report, o.detail);
      continue;
    }
    const { e, audit } = o;
    if (!(await o.ok)) {
      refuse(found, e, audit.authorSeq, 'modified', MODIFIED);
      continue;
    }
    // The time is the signed one, so only the device's key (or its thief) could have chosen it.
    if (o.revokedAt !== undefined && !isInstantBefore(audit.at, o.revokedAt)) {
      refuse(
        found,
        e,
        audit.authorSeq,
        'inserted',
        `signed by ${e.author} at ${audit.at}, not before its revocation at ${o.revokedAt}`,
      );
      continue;
    }
    const list = found.byAuthor.get(e.author) ?? [];
    list.push({ e, pos: audit.authorSeq, prevHash: audit.prevHash, link: o.link });
    found.byAuthor.set(e.author, list);
  }
};

const MODIFIED = 'signature does not match the entry (content or header changed)';

/** Pass 2: each author's chain — positions 1..n, each once, in order, each linked to its predecessor. */
const checkChains = (found: Found, base: ReadonlyMap<string, ChainHead>): void => {
  const { byAuthor, unchecked, chains } = found;
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
        report(found, v.e, 'inserted', `a second entry claims position ${v.pos} of ${author}'s chain`);
        continue;
      }
      byPos.set(v.pos, v);
      if (v.pos < maxSoFar)
        report(found, v.e, 'reordered', `position ${v.pos} is served after position ${maxSoFar}`);
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
          found,
          v.e,
          'deleted',
          `position${first === pos - 1 ? '' : 's'} ${first === pos - 1 ? first : `${first}–${pos - 1}`} of ${author}'s chain ${first === pos - 1 ? 'is' : 'are'} missing before this entry`,
        );
        continue;
      }
      const expectedHash = pos === 1 ? null : pos - 1 === floor ? floorHash : prev!.link;
      if (v.prevHash !== expectedHash)
        report(found, v.e, 'inserted', 'does not link to the previous entry of its author');
    }
  }
};

/**
 * Pass 3: chain ends. Gaps inside a chain show up in pass 2; a cut-off end, or a chain rolled back and grown
 * again, leaves no trace in what is served, so it is caught only against a known position.
 */
const checkEnds = (
  found: Found,
  known: ReadonlyMap<string, ReachedPosition>,
  base: ReadonlyMap<string, ChainHead>,
): void => {
  const { byAuthor, claimed, claims, chains, unchecked, refusedAt, problems } = found;
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
};

/** Each author's verified head (see the header). */
const headsOf = (
  found: Found,
  known: ReadonlyMap<string, ReachedPosition>,
  base: ReadonlyMap<string, ChainHead>,
): Map<string, ChainHead> => {
  const heads = new Map<string, ChainHead>();
  for (const [author, { byPos, twice }] of found.chains) {
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
  return heads;
};

/**
 * As `verifyAuditLog`, and each author's verified head (see the header); the served entries reported
 * `modified` or `inserted` (`refused`, as served, not by id); and the link hash of each entry whose
 * signature holds (`links`).
 */
export const verifyAuditChains = async (
  entries: readonly ServedDoc[],
  authorKey: AuthorKeyOf,
  ed: Ed25519,
  reached: ReadonlyMap<string, number | ReachedPosition> = new Map(),
  /** Per author, a chain verified whole before, served ahead of `entries` (see the header). */
  base: ReadonlyMap<string, ChainHead> = new Map(),
): Promise<{
  verification: AuditVerification;
  heads: Map<string, ChainHead>;
  refused: Set<ServedDoc>;
  links: Map<ServedDoc, string>;
}> => {
  const found: Found = {
    problems: [],
    refused: new Set(),
    byAuthor: new Map(),
    unchecked: new Map(),
    claimed: new Map([...base].map(([author, head]) => [author, head.seq])),
    claims: new Map(),
    refusedAt: new Map(),
    chains: new Map(),
  };
  const known = new Map<string, ReachedPosition>();
  for (const [author, r] of reached) known.set(author, typeof r === 'number' ? { seq: r } : r);
  await checkSignatures(found, entries, authorKey, ed);
  checkChains(found, base);
  checkEnds(found, known, base);
  const heads = headsOf(found, known, base);
  const links = new Map<ServedDoc, string>();
  for (const list of found.byAuthor.values()) for (const v of list) links.set(v.e, v.link);
  const { problems, refused, byAuthor } = found;
  return {
    verification: { ok: problems.length === 0, entries: entries.length, authors: byAuthor.size, problems },
    heads,
    refused,
    links,
  };
};
