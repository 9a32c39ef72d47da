/*
 * Account erasure on the CouchDB store (types.ts `accounts.erase`): what the SQLite store removes in one
 * transaction (sqlite-erase.ts), here in two steps, the first atomic, the second resumable.
 *
 * | step     | what                                                                                      |
 * | -------- | ----------------------------------------------------------------------------------------- |
 * | 1 commit | one transaction (log.ts) of the account's shard, `#grants`, `#reg` (its login name) and     |
 * |          | the shards holding what names it: patients' that granted to it, streams' with envelopes     |
 * |          | sealed to it, grantees' that accepted it, its links' and their tokens'. It removes (`gone`) |
 * |          | the account, its devices, grants given and received, envelopes to it, acceptances of it,    |
 * |          | its links and their tokens; empties its streams' heads; bumps its grantees' grant-change    |
 * |          | positions; tells other nodes its devices are revoked (they close their connections); and   |
 * |          | writes the intent `X|account`: what step 2 removes, and the answer.                         |
 * | 2 sweep  | deletes for good (CouchDB deletes, every leaf) every document the commits of the account's   |
 * |          | shard, its links' and its tokens' shards ever wrote (their logs name each one), then those   |
 * |          | logs, its sessions, challenges, directory entry and availability; the intent last.          |
 *
 * Invariants:
 * - From step 1 on, every node reads the account as absent: no device authenticates, no session or grant
 *   holds, its streams are empty. Step 1 is decided on the state its shards were settled at; a grant change
 *   racing it refuses it (`#grants` takes part), and it is decided again.
 * - A node that stops in step 2 leaves the intent: `erase` of the account finishes it and answers the
 *   intent's figures, and every node finishes pending intents when it starts (`finishPending`). Both steps
 *   are idempotent; two nodes sweeping one account delete the same documents.
 * - Afterwards the account's shard reads as never committed to: its id may be registered again.
 * Limits (docs/architecture.md): CouchDB keeps a deleted document's id (ids of the account's streams name
 * it) until purged and old revisions' bodies until compaction; applied commits in other shards' logs keep
 * what they wrote then (a grant to the account, an envelope sealed to it, the login name in `#reg`).
 * Failure modes: NOT_FOUND when the account does not exist (nor an intent for it); UNAVAILABLE as log.ts
 * (step 1 committed or not; step 2 left to the next erase or start).
 */
import { StoreError, type Account, type AccountErasure, type Grant } from '../types';
import { key, lastPart, prefix, type CouchDoc } from './db';
import { docToGrant, forgetDevices, Parts, type Ctx } from './context';
import { GRANTS_SHARD, REG_SHARD, shardOf, type CommitEvent, type Part, type Snapshot } from './log';
import { gone, isGone, put } from './ops';
import { linkShard, tokenShard } from './shl';
import { requireText } from '../store-checks';

/** What step 2 needs, kept in `X|account` by step 1. */
interface Intent {
  accountId: string;
  erasure: AccountErasure;
  /** Shards whose every document and whole log step 2 deletes. */
  shards: string[];
}

/** What names the account, read on the settled state. */
interface Found {
  account: Account;
  deviceIds: string[];
  given: Grant[];
  received: Grant[];
  envelopesTo: CouchDoc[];
  acceptedBy: string[];
  links: Array<{ linkId: string; listing: string; tokenHash: string | null }>;
}

type Outcome = { kind: 'again' } | { kind: 'erased'; intent: Intent };

const live = (doc: CouchDoc | null | undefined): CouchDoc | null =>
  doc === undefined || isGone(doc) ? null : doc;
/** The prefix of every id `kind|<stream of the account>|…`. */
const ofStreams = (kind: string, accountId: string): string =>
  `${kind}|${encodeURIComponent(`${accountId}/`)}`;
/** Kinds keyed by stream first, and by account first (also swept by range, beside the log's ids). */
const STREAM_KINDS = ['d', 'q', 'qx', 'ap', 'aa', 'hk', 'e'];
const ACCOUNT_KINDS = ['Da', 'gp', 'ac', 'Sp', 'Sx'];

export interface CouchErase {
  erase(accountId: string): Promise<AccountErasure>;
  /** Finishes the erasures a stopped node left (their intents); what fails is left for the next start. */
  finishPending(): Promise<void>;
}

export const couchErase = (ctx: Ctx): CouchErase => {
  const { data, log } = ctx;

  const discover = async (accountId: string): Promise<Found | null> => {
    const account = live(await data.get(key('A', accountId)));
    if (account === null) return null;
    const [devices, given, received, envelopesTo, acceptances, listings] = await Promise.all([
      data.range(prefix('Da', accountId), { includeDocs: false }),
      data.range(prefix('gp', accountId)),
      data.range(prefix('gg', accountId)),
      data.range(prefix('er', accountId)),
      // Acceptances are keyed by grantee: those naming the account are found among all (ids only).
      data.range('ac|', { includeDocs: false }),
      data.range(prefix('Sp', accountId)),
    ]);
    const linked = listings
      .filter((d) => !isGone(d))
      .map((d) => ({ linkId: lastPart(d._id), listing: d._id }));
    const bodies = await data.getMany(linked.map((l) => key('Sl', l.linkId)));
    return {
      account: account.account as Account,
      deviceIds: devices.map((d) => lastPart(d._id)),
      given: given.filter((d) => !isGone(d)).map(docToGrant),
      received: received.filter((d) => !isGone(d)).map(docToGrant),
      envelopesTo: envelopesTo.filter(
        (d) => !isGone(d) && shardOf((d.envelope as { stream: string }).stream) !== accountId,
      ),
      acceptedBy: acceptances
        .filter((d) => lastPart(d._id) === accountId && !d._id.startsWith(prefix('ac', accountId)))
        .map((d) => decodeURIComponent(d._id.split('|')[1] ?? '')),
      links: linked.map((l) => {
        const body = live(bodies.get(key('Sl', l.linkId)));
        const tokenHash = (body?.link as { tokenHash?: string } | undefined)?.tokenHash;
        return { ...l, tokenHash: tokenHash ?? null };
      }),
    };
  };

  const shardsOf = (accountId: string, f: Found): string[] =>
    [
      ...new Set([
        accountId,
        GRANTS_SHARD,
        ...(f.account.loginName === undefined ? [] : [REG_SHARD]),
        ...f.received.map((g) => shardOf(`${g.patientId}/`)),
        ...f.envelopesTo.map((d) => shardOf((d.envelope as { stream: string }).stream)),
        ...f.acceptedBy,
        ...f.links.map((l) => linkShard(l.linkId)),
        ...f.links.flatMap((l) => (l.tokenHash === null ? [] : [tokenShard(l.tokenHash)])),
      ]),
    ].sort();

  /** Step 1's plan on the settled state: the ops per shard, and the intent. */
  const plan = async (
    accountId: string,
    shards: readonly string[],
    scan: { ids: Set<string>; n: number },
    snaps: Map<string, Snapshot>,
  ): Promise<{ parts: Parts; outcome: Outcome }> => {
    const parts = new Parts();
    const found = await discover(accountId);
    if (found === null) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
    const wanted = shardsOf(accountId, found);
    if (wanted.some((s) => !shards.includes(s))) return { parts, outcome: { kind: 'again' } };
    // Commits of the account's shard since its log was scanned (its state was settled at snaps).
    if ((snaps.get(accountId)?.n ?? 0) > scan.n) {
      const more = await log.opIds(accountId, scan.n);
      for (const id of more.ids) scan.ids.add(id);
      scan.n = more.n;
    }
    const logIds = scan.ids;
    const [records, ownEnvelopes, manifests] = await Promise.all([
      data.range(ofStreams('d', accountId), { includeDocs: false }),
      data.range(ofStreams('e', accountId), { includeDocs: false }),
      data.getMany([...logIds].filter((id) => id.startsWith('bm|'))),
    ]);
    const grants = new Map<string, Grant>();
    for (const g of [...found.given, ...found.received]) grants.set(g.grantId, g);
    const granteeIds = [
      ...new Set(found.given.map((g) => g.granteeId).filter((id) => id !== accountId)),
    ].sort();
    const erasure: AccountErasure = {
      docs: records.length,
      blobs: [...manifests.values()].filter((d) => !isGone(d)).length,
      grants: grants.size,
      envelopes: ownEnvelopes.length + found.envelopesTo.length,
      deviceIds: found.deviceIds,
      granteeIds,
    };
    const linkShards = found.links.flatMap((l) => [
      linkShard(l.linkId),
      ...(l.tokenHash === null ? [] : [tokenShard(l.tokenHash)]),
    ]);
    const intent: Intent = { accountId, erasure, shards: [accountId, ...linkShards] };

    const grantGone = (g: Grant) => [
      gone(key('g', g.grantId)),
      gone(key('gp', g.patientId, g.grantId)),
      gone(key('gg', g.granteeId, g.grantId)),
    ];
    const own = parts.part(accountId);
    parts.ops(
      accountId,
      gone(key('A', accountId)),
      ...found.deviceIds.flatMap((d) => [gone(key('D', d)), gone(key('Da', accountId, d))]),
      ...found.given.flatMap(grantGone),
      put({ _id: key('X', accountId), intent }),
    );
    own.state = { heads: {} };
    own.events = found.deviceIds.map((device): CommitEvent => ({ k: 'device-revoked', device }));
    for (const g of found.received) parts.ops(shardOf(`${g.patientId}/`), ...grantGone(g));
    for (const d of found.envelopesTo) {
      const e = d.envelope as { stream: string; epoch: number; recipient: string };
      parts.ops(shardOf(e.stream), gone(key('e', e.stream, e.epoch, e.recipient)), gone(d._id));
    }
    for (const grantee of found.acceptedBy) parts.ops(grantee, gone(key('ac', grantee, accountId)));
    for (const l of found.links) {
      parts.ops(linkShard(l.linkId), gone(key('Sl', l.linkId)), gone(key('Ss', l.linkId)), gone(l.listing));
      if (l.tokenHash !== null) parts.ops(tokenShard(l.tokenHash), gone(key('Sh', l.tokenHash)));
    }
    if (found.account.loginName !== undefined) {
      parts.ops(REG_SHARD, gone(key('L', found.account.loginName)));
    }
    parts.part(GRANTS_SHARD).events = granteeIds.map((grantee): CommitEvent => ({
      k: 'grants',
      grantee,
      patient: accountId,
    }));
    return { parts, outcome: { kind: 'erased', intent } };
  };

  /** Step 2: idempotent; `known` (the account log's ids, when the caller just read them) spares a scan. */
  const sweep = async (intent: Intent, known?: Set<string>): Promise<void> => {
    const { accountId } = intent;
    const devices = new Set(intent.erasure.deviceIds);
    forgetDevices(data, intent.erasure.deviceIds);
    const [sessions, challenges] = await Promise.all([
      Promise.all([...devices].map((d) => data.range(prefix('Sd', d), { includeDocs: false }))),
      data.range('C|'),
    ]);
    await data.remove([
      ...sessions.flat().flatMap((s) => [s._id, key('S', lastPart(s._id))]),
      ...challenges
        .filter((c) => devices.has((c.challenge as { deviceId?: string } | undefined)?.deviceId ?? ''))
        .map((c) => c._id),
      key('P', accountId),
      key('V', accountId),
    ]);
    const intentId = key('X', accountId);
    for (const shard of intent.shards) {
      const ids = shard === accountId && known !== undefined ? known : (await log.opIds(shard)).ids;
      if (shard === accountId) {
        const ranges = await Promise.all([
          ...STREAM_KINDS.map((k) => data.range(ofStreams(k, accountId), { includeDocs: false })),
          ...ACCOUNT_KINDS.map((k) => data.range(prefix(k, accountId), { includeDocs: false })),
        ]);
        for (const d of ranges.flat()) ids.add(d._id);
      }
      ids.delete(intentId);
      await data.remove([...ids]);
      await log.drop(shard);
    }
    await data.remove([intentId]);
  };

  const erase = async (accountId: string): Promise<AccountErasure> => {
    requireText(accountId, 'accountId');
    const pending = live(await data.get(key('X', accountId)));
    if (pending !== null) {
      const intent = pending.intent as Intent;
      await sweep(intent);
      return intent.erasure;
    }
    const scan = await log.opIds(accountId);
    for (;;) {
      const found = await discover(accountId);
      if (found === null) {
        const left = live(await data.get(key('X', accountId)));
        if (left === null) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
        const intent = left.intent as Intent;
        await sweep(intent);
        return intent.erasure;
      }
      const shards = shardsOf(accountId, found);
      const { result } = await log.commit<Outcome>(shards, async (snaps) => {
        const { parts, outcome } = await plan(accountId, shards, scan, snaps);
        return { parts: outcome.kind === 'again' ? new Map<string, Part>() : parts.map, result: outcome };
      });
      if (result.kind === 'again') continue;
      await sweep(result.intent, scan.ids);
      return result.intent.erasure;
    }
  };

  const finishPending = async (): Promise<void> => {
    for (const doc of await data.range('X|')) {
      if (!isGone(doc)) await sweep(doc.intent as Intent);
    }
  };

  return { erase, finishPending };
};
