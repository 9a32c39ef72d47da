/**
 * Checking a patient's log as served: every entry verified (audit-chain.ts), opened with the author that
 * vouches for it, and every author's chain held to how far this device verified it before (SEEN) and, for
 * this device's own chain, to the position the server acknowledged.
 *
 * Who vouches for an entry:
 * | author | key looked up | source |
 * | ------ | ------------- | ------ |
 * | the server (`serverKey`) | its audit key; body must open and match the schema, else `inserted` | `server` |
 * | a device, body opens | the device under the account its body names | `patient` (own account) or `grantee` |
 * | a device, body does not open | the device under each account the patient granted to (its verified grants; the server's list read when none has it) | `grantee`, listed as unreadable |
 *
 * - An author whose list does not load is `unverified`, unless it is found under another account (the
 *   patient's own, one its other entries name and sign under, or the one its cached entries verified
 *   under): a device belongs to one account, so the entry is `inserted`.
 * - An entry signed for another patient's log is `inserted` and takes no position here.
 * - Entries are refused as served, never by id: a copy under a genuine entry's id does not take it out.
 * - Past the view cache (`since`), any problem but `unverified` (or an own loss) answers null, remembering
 *   nothing: the caller checks the whole log. A whole check raises SEEN (`accept`: replaces it).
 * - OWN_LOST positions are reported `deleted` once, by the record, until accepted.
 */
import type { AuditBody, ServedDoc } from '@hale/protocol';
import type { StoredGrant } from './stored-state';
import { AUDIT_STATE } from './stored-state';
import type { AuthorKey, AuthorUnavailable } from '../sync/device-directory';
import {
  openAuditBody,
  signedUnder,
  verifyAuditChains,
  type AuditProblem,
  type ChainHead,
  type ReachedPosition,
  type UnreadableAuditEntry,
} from './audit-chain';
import { endingsOf, type AuditCore } from './context';
import { seenKey } from './meta-keys';
import { remember, rememberAccepted } from './seen';
import { currentIncarnation } from './served-log';
import { OWN_LOST, OwnLost, SeenChains } from './stored';
import {
  UNREADABLE_ENTRY_ACTION,
  UNREADABLE_ENTRY_MEANING,
  type Checked,
  type EntrySource,
  type Judged,
  type OpenedEntry,
} from './types';
import { VIEW_UNJUDGED_RETRY_MS, lookupOf, waitsForList, type ViewState } from './view-state';
import type { ViewJudged } from './view-store';

export interface CheckState {
  readonly core: Pick<AuditCore, 'deps' | 'issue' | 'names' | 'serial' | 'endings' | 'accessGone'>;
  readonly view: ViewState;
}

export const judgedOf = (account: string, key: AuthorKey): Judged =>
  key.revokedAt === undefined ? { account } : { account, revokedAt: key.revokedAt };

export const sameJudged = (a: Judged | null, b: Judged | null): boolean =>
  a !== null && b !== null && a.account === b.account && a.revokedAt === b.revokedAt;

/** How a check judged each device author, for the view cache: one judged two ways is left out. */
export const judgedBy = (checked: Checked): ViewJudged => {
  const judged: ViewJudged = {};
  for (const [author, j] of checked.judged) if (j !== null) judged[author] = j;
  return judged;
};

/**
 * Verifies `entries` (the patient's log as served) and opens those that verify, each with the author
 * that vouches for it: the server when its id and key sign it, otherwise the account whose certified
 * device key does (the body names the account, and only a device that account certified verifies under
 * it). Every author's chain must reach the position this device verified before (SEEN) and hold
 * the same entry there; this device's own, also `own` (the position the server acknowledged). The heads
 * verified now are remembered.
 */
export const check = async (
  s: CheckState,
  patientId: string,
  entries: ServedDoc[],
  own?: number,
  /** The person accepted the chains' losses: they are held to what is served now (`acceptLosses`). */
  accept = false,
  /** `endingsOf(patientId)` before `entries` were read (default: now). */
  ended = endingsOf(s.core, patientId),
): Promise<Checked> => {
  const checked = await checkServed(s, patientId, entries, own, accept, undefined, ended);
  if (checked === null) throw new Error('audit log: a whole check answered nothing');
  return checked;
};

/**
 * `check`, or with `since` only of the entries served after a part of the log verified before with no
 * problem (the view cache, view-cache.ts): answers what a check of the whole log would, assuming
 * that part is still served as it was — or null, remembering nothing, when it finds any problem (a
 * check of the whole log then names them as it always did).
 */
export const checkServed = async (
  s: CheckState,
  patientId: string,
  entries: ServedDoc[],
  own?: number,
  accept = false,
  since?: {
    heads: ReadonlyMap<string, ChainHead>;
    entries: number;
    /**
     * Look-ups (`lookupOf`: a cached author under the account the cache judged it) not to make again
     * (`judgeCached` found them failing): entries naming that account are `unverified`, as when it fails.
     */
    unjudged?: ReadonlySet<string>;
    /** The account the cache judged each cached device author under (a verified entry named it). */
    judged?: Readonly<ViewJudged>;
  },
  ended = endingsOf(s.core, patientId),
): Promise<Checked | null> => {
  const { core, view } = s;
  const { deps } = core;
  deps.assertUnlocked?.();
  const server = await deps.serverKey();
  // Unreadable (a newer build's): nothing is known, and nothing is written over it below. Accepting,
  // nothing is held to it, but its incarnations still tell a loss that came with a restore.
  const kept: SeenChains = (await deps.meta.get(seenKey(core, patientId), SeenChains)) ?? {};
  const seen: SeenChains = accept ? {} : kept;
  const reached = new Map<string, ReachedPosition>();
  for (const [author, at] of Object.entries(seen)) reached.set(author, { seq: at.seq, hash: at.hash });
  if (own !== undefined && own > (reached.get(deps.device.deviceId)?.seq ?? 0))
    reached.set(deps.device.deviceId, { seq: own });
  const vouched = new Map<ServedDoc, { source: EntrySource; accountId: string; body: AuditBody }>();
  const judged = new Map<string, Judged | null>();
  const judge = (author: string, now: Judged): void => {
    if (!judged.has(author)) judged.set(author, now);
    else if (!sameJudged(judged.get(author) ?? null, now)) judged.set(author, null);
  };
  /** Entries the server's key signs whose body does not open or match the schema. */
  const unreadable = new Set<ServedDoc>();
  /** Entries whose author's key could not be looked up now (`unverified`), with what they say. */
  const unchecked = new Map<ServedDoc, AuditBody>();
  /** Entries whose content is unreadable, by the grantee account that certified their signing device. */
  const unreadableBy = new Map<ServedDoc, string>();
  /**
   * A device author of an entry whose content does not open: looked up under the accounts the patient
   * granted to (the device's verified copy of the grants, ended ones too), never under an account only the
   * entry or the server names. Found: that account's certified key (the signature is still checked).
   * Found under none: the server's list is read into the copy once per check (`readGrants`: a grant made
   * on another of the patient's devices), and the accounts it adds are asked; a list that cannot be read
   * now leaves the author unavailable, not unknown.
   * Any look-up that could not be made now: unavailable (the entry is `unverified`, checked again later).
   */
  const granteesOf = (grants: readonly StoredGrant[]): string[] => [
    ...new Set(
      grants
        .filter((g) => g.grant.patientId === patientId && g.grant.granteeId !== patientId)
        .map((g) => g.grant.granteeId),
    ),
  ];
  let copied: Promise<string[]> | undefined;
  let listed: Promise<string[] | AuthorUnavailable> | undefined;
  const underGrantee = async (
    accounts: readonly string[],
    e: ServedDoc,
  ): Promise<{ account: string; key: AuthorKey } | AuthorUnavailable | null> => {
    let unavailable: AuthorUnavailable | null = null;
    for (const account of accounts) {
      const key = await deps.directory.authorKey(account, e.author);
      if (key === null) continue;
      if ('unavailable' in key) unavailable ??= key;
      else return { account, key };
    }
    return unavailable;
  };
  const unreadableAuthor = async (
    e: ServedDoc,
  ): Promise<{ account: string; key: AuthorKey } | AuthorUnavailable | null> => {
    copied ??= deps.meta
      .get('grants', AUDIT_STATE.grants)
      .catch(() => null)
      .then((stored) => granteesOf(stored ?? []));
    const known = await copied;
    const found = await underGrantee(known, e);
    const { readGrants } = deps;
    // Only this account's own log has grants in the copy.
    if (found !== null || readGrants === undefined || patientId !== deps.accountId) return found;
    listed ??= readGrants().then(
      (grants) => granteesOf(grants),
      (err: unknown) => ({
        unavailable: `the grants this account issued could not be read now (${err instanceof Error ? err.message : String(err)})`,
      }),
    );
    const more = await listed;
    if (!Array.isArray(more)) return more;
    return underGrantee(
      more.filter((account) => !known.includes(account)),
      e,
    );
  };
  // Signed for another patient's log (the signature covers the stream): no part of this one, whoever
  // signed it and whatever it says, so it neither verifies nor takes a position of its author's chain here.
  const stream = `${patientId}/audit`;
  const foreign = entries.filter((e) => e.stream !== stream);
  const logged = foreign.length === 0 ? entries : entries.filter((e) => e.stream === stream);
  // Opened once each, as its author is looked up (so that the next opens while signatures are checked).
  const bodies = new Map<ServedDoc, AuditBody | null>();
  const bodyOf = (e: ServedDoc): AuditBody | null => {
    let body = bodies.get(e);
    if (body === undefined) {
      body = openAuditBody(e, deps.keys.wrapping, deps.x25519);
      bodies.set(e, body);
    }
    return body;
  };
  /** Per author (a device), the accounts its served entries name as actor: every body opened, when asked. */
  let namedBy: Map<string, Set<string>> | undefined;
  const namesOf = (author: string): Set<string> => {
    if (namedBy === undefined) {
      namedBy = new Map();
      for (const e of logged) {
        const body = bodyOf(e);
        if (body) namedBy.set(e.author, (namedBy.get(e.author) ?? new Set()).add(body.actorId));
      }
    }
    return namedBy.get(author) ?? new Set();
  };
  /**
   * A device belongs to one account, so an entry naming an account whose device list did not load is
   * also looked up under the patient's own account and the others its author's entries name: found there,
   * the entry names an account its author is not a device of, and is refused (null: inserted), not left
   * `unverified`. Otherwise a server could stand a forgery on a position known stored, naming an account
   * whose list it withholds, and a cut chain end would pass as a lookup to try again.
   */
  const elsewhere = async (e: ServedDoc, named: string): Promise<boolean> => {
    // Past the cache, the author's cached entries are not served here: the account they verified under is
    // asked too, so a forgery there is refused as a whole check (which reads them) refuses it.
    const cachedUnder = since?.judged?.[e.author]?.account;
    const accounts = [deps.accountId, ...namesOf(e.author)];
    for (const account of new Set(cachedUnder === undefined ? accounts : [...accounts, cachedUnder])) {
      if (account === named) continue;
      const there = await deps.directory.authorKey(account, e.author);
      if (there === null || 'unavailable' in there) continue;
      // The patient's own account and the one cached entries verified under are known. Another is only
      // named by entries: a server can make up an account whose signed list holds the author's public key,
      // so it counts only when an entry naming it holds the author's signature under that key.
      if (account === deps.accountId || account === cachedUnder) return true;
      for (const other of logged) {
        if (other.author !== e.author || bodyOf(other)?.actorId !== account) continue;
        if (await signedUnder(other, there.key, deps.ed)) return true;
      }
    }
    return false;
  };
  const authorKey = async (e: ServedDoc): Promise<Uint8Array | AuthorKey | AuthorUnavailable | null> => {
    const body = bodyOf(e);
    if (server && e.author === server.serverId) {
      if (body) vouched.set(e, { source: 'server', accountId: server.serverId, body });
      else unreadable.add(e);
      return server.publicKey;
    }
    if (!body) {
      const found = await unreadableAuthor(e);
      if (found === null || 'unavailable' in found) return found;
      unreadableBy.set(e, found.account);
      judge(e.author, judgedOf(found.account, found.key));
      return found.key;
    }
    // Past the cache, a look-up that failed moments ago (this author under the account this entry names)
    // is not made again for a while (`judgeCached`): a list failing to load must not cost a look-up per
    // view. Only that very look-up: what one entry names must not decide how its author's others are judged.
    const lookup = lookupOf(body.actorId, e.author);
    if (
      since !== undefined &&
      (since.unjudged?.has(lookup) === true || waitsForList(view, lookup, deps.now()))
    ) {
      unchecked.set(e, body);
      return { unavailable: `the device list was not loaded at this session's last look-up` };
    }
    // A revoked device's key comes with its cutoff, which verifyAuditLog applies before anything is opened.
    const key = await deps.directory.authorKey(body.actorId, e.author);
    // Refused for what it claims: its failed look-up is not remembered (it says nothing of the author).
    if (key !== null && 'unavailable' in key && (await elsewhere(e, body.actorId))) return null;
    if (since !== undefined) {
      if (key !== null && 'unavailable' in key)
        view.unjudgedUntil.set(lookup, deps.now() + VIEW_UNJUDGED_RETRY_MS);
      else view.unjudgedUntil.delete(lookup);
    }
    if (key !== null && 'unavailable' in key) unchecked.set(e, body);
    if (key && !('unavailable' in key)) {
      const source = body.actorId === deps.accountId ? 'patient' : 'grantee';
      vouched.set(e, { source, accountId: body.actorId, body });
      judge(e.author, judgedOf(body.actorId, key));
    }
    return key;
  };
  const { verification, heads, refused, links } = await verifyAuditChains(
    logged,
    authorKey,
    deps.ed,
    reached,
    since?.heads,
  );
  const problems: AuditProblem[] = [...verification.problems];
  /** `e` is refused as served (not by id: a copy under a genuine entry's id must not take that one out). */
  const insert = (e: ServedDoc, detail: string): void => {
    refused.add(e);
    problems.push({
      kind: 'inserted',
      entryId: e.id,
      author: e.author,
      authorSeq: e.audit?.authorSeq ?? 0,
      detail,
    });
  };
  for (const e of foreign) {
    insert(e, `an entry of another log (${e.stream}) served in ${stream}: not part of this log`);
  }
  // Signed by the server, so its place in the chain holds; but what it logged cannot be read or listed.
  // Entries are refused as served, not by id: a copy served under a genuine entry's id must not take the
  // genuine entry out of the views with it.
  for (const e of entries) {
    if (!unreadable.has(e) || refused.has(e)) continue;
    insert(
      e,
      "signed by the server, but its body does not open with this account's wrapping key or does not " +
        'match the AuditBody schema: no view lists it',
    );
  }
  // Positions of this device's own chain lost with an announced restore (`continueAfterRestore`): the
  // chain went on from the served end, so only this record still tells of them.
  const lost = patientId === deps.accountId ? ((await deps.meta.get(OWN_LOST, OwnLost)) ?? []) : [];
  // Past the cache, only entries not checkable now (`unverified`: their author's device list did not load)
  // are answered as a whole check answers them; any other problem is left to a whole check.
  if (since !== undefined && (problems.some((p) => p.kind !== 'unverified') || lost.length > 0)) return null;
  const incarnation = await currentIncarnation(core);
  for (const p of problems) {
    const was = kept[p.author]?.incarnation;
    if (p.kind !== 'deleted' || was === undefined || incarnation === undefined || was === incarnation)
      continue;
    p.detail +=
      '; the server announced a restore of its store from a backup since this device verified that ' +
      'chain (its incarnation changed): entries stored after the backup were lost';
  }
  if (accept) {
    await rememberAccepted(core, patientId, heads, incarnation, ended);
    view.reports.delete(patientId);
    if (lost.length > 0) await deps.meta.set(OWN_LOST, []);
  } else {
    await remember(core, patientId, seen, heads, incarnation, ended);
    // Met while the chain is being continued (or before): the same loss, told once, by the record.
    const told = (p: AuditProblem): boolean =>
      p.kind === 'deleted' &&
      p.author === deps.device.deviceId &&
      lost.some((l) => p.authorSeq >= l.from && p.authorSeq <= l.to);
    problems.splice(0, problems.length, ...problems.filter((p) => !told(p)));
    for (const l of lost) {
      const one = l.from === l.to;
      problems.push({
        kind: 'deleted',
        entryId: '',
        author: deps.device.deviceId,
        authorSeq: l.from,
        detail:
          `position${one ? '' : 's'} ${one ? l.from : `${l.from}–${l.to}`} of ${deps.device.deviceId}'s ` +
          `chain (this device's) ${one ? 'was' : 'were'} acknowledged by the server, which then announced a ` +
          'restore of its store from a backup (its incarnation changed): entries stored after the backup ' +
          `were lost; this device's chain continues from position ${l.from - 1}`,
      });
    }
  }
  const opened: OpenedEntry[] = [];
  const unreadableEntries: UnreadableAuditEntry[] = [];
  for (const e of entries) {
    const account = unreadableBy.get(e);
    if (account !== undefined && e.audit && !refused.has(e)) {
      unreadableEntries.push({
        entryId: e.id,
        author: e.author,
        authorAccountId: account,
        authorSeq: e.audit.authorSeq,
        at: e.audit.at,
        meaning: `${account} (device ${e.author}) wrote an entry ${UNREADABLE_ENTRY_MEANING}`,
      });
      opened.push({
        id: e.id,
        seq: e.seq,
        author: e.author,
        authorSeq: e.audit.authorSeq,
        at: e.audit.at,
        body: {
          kind: 'AuditEntry',
          action: UNREADABLE_ENTRY_ACTION,
          actorId: account,
          actorDeviceId: e.author,
          at: e.audit.at,
          summary: UNREADABLE_ENTRY_MEANING,
        },
        source: 'grantee',
        authorAccountId: account,
        unreadable: true,
      });
      continue;
    }
    const v = vouched.get(e);
    if (!v || !e.audit || refused.has(e)) continue;
    opened.push({
      id: e.id,
      seq: e.seq,
      author: e.author,
      authorSeq: e.audit.authorSeq,
      at: v.body.at,
      body: v.body,
      source: v.source,
      authorAccountId: v.accountId,
    });
  }
  const total = verification.entries + foreign.length + (since?.entries ?? 0);
  return {
    verification: {
      ...verification,
      entries: total,
      ok: problems.length === 0,
      problems,
      ...(unreadableEntries.length === 0 ? {} : { unreadable: unreadableEntries }),
    },
    opened,
    heads,
    judged,
    unchecked: [...unchecked.values()],
    links,
  };
};
