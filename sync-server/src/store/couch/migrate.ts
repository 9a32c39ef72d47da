/*
 * `hale-sync-server migrate --from sqlite --to couchdb`: copies a stopped server's SQLite store into an
 * empty CouchDB store, keeping what devices rely on to carry on without a conflict or a re-download.
 *
 * | kept as it was                                   | how                                            |
 * | ------------------------------------------------ | ---------------------------------------------- |
 * | every record at its seq, every stream's head      | migration-writes.ts (seqs are devices' checkpoints)       |
 * | the store's incarnation and the server's key      | meta copied whole (no "restored" notice, same server id) |
 * | accounts, devices (revoked too) with their names, grants with their receive time, acceptances, envelopes, blobs and tombstones, invites, directory, availabilities, sessions, server state, signed heads | the store's own calls |
 * | SMART Health Links with their state (count, attempts, revocation) and access logs | `shl.importLink`: one commit per link |
 *
 * Invariants: the source is opened as the server opens it (its data directory claimed: a running server
 * refuses the migration, DATA_DIR_IN_USE); the target must be empty (nothing ever committed), so a run
 * never mixes two stores; every item is read back from the target and compared, and the counts are printed:
 * any difference fails the migration (status 1). Challenges and links' one-time file tickets are not copied
 * (they live seconds or minutes); neither is
 * the record of a restore's origin (`keptFrom` is not given by the CouchDB store).
 * Failure modes: StoreError from either store (UNAVAILABLE when CouchDB is unreachable), INVALID for a
 * target that is not empty.
 */
import { isDeepStrictEqual } from 'node:util';
import { HEALTH_META_KEY, openSqliteStore, type SqliteStore } from '../sqlite-store';
import { StoreError, type Doc, type Envelope, type ProviderEntry } from '../types';
import type { CouchStore } from './store';

export interface MigrationCount {
  what: string;
  source: number;
  target: number;
}

const all = <T>(store: SqliteStore, sql: string): T[] => store.db.prepare(sql).all() as T[];

/** Every current document of `stream`, in seq order. */
const streamDocs = async (
  store: { docs: Pick<SqliteStore['docs'], 'readDocs'> },
  stream: string,
): Promise<Doc[]> => {
  const docs: Doc[] = [];
  for (let since = 0; ;) {
    const page = await store.docs.readDocs(stream, since, 1000, 1 << 26);
    docs.push(...page.docs);
    since = page.checkpoint;
    if (page.done) return docs;
  }
};

export const migrateSqliteToCouch = async (
  dataDir: string,
  target: CouchStore,
  say: (line: string) => void,
): Promise<MigrationCount[]> => {
  if (!(await target.isEmpty())) {
    throw new StoreError('INVALID', 'the CouchDB database is not empty: migrate into a new one (--couch-db)');
  }
  const source = await openSqliteStore({ dataDir });
  const counts: MigrationCount[] = [];
  const count = (what: string, source: number, targetCount: number) =>
    counts.push({ what, source, target: targetCount });
  try {
    for (const { key, value } of all<{ key: string; value: string }>(source, 'SELECT key, value FROM meta')) {
      if (key !== HEALTH_META_KEY) await target.meta.put(key, value);
    }
    for (const r of all<{ key: string; value: string; updated_at: string }>(
      source,
      'SELECT * FROM server_state',
    )) {
      await target.serverState.put(r.key, r.value, r.updated_at);
    }

    const accountIds = all<{ account_id: string }>(
      source,
      'SELECT account_id FROM accounts ORDER BY account_id',
    );
    let same = 0;
    for (const { account_id } of accountIds) {
      const account = await source.accounts.get(account_id);
      if (account === null) continue;
      await target.accounts.put(account);
      if (isDeepStrictEqual(await target.accounts.get(account_id), account)) same++;
    }
    count('accounts', accountIds.length, same);

    const deviceIds = all<{ device_id: string }>(source, 'SELECT device_id FROM devices ORDER BY device_id');
    same = 0;
    for (const { device_id } of deviceIds) {
      const device = await source.devices.get(device_id);
      if (device === null) continue;
      await target.devices.put(device);
      if (isDeepStrictEqual(await target.devices.get(device_id), device)) same++;
    }
    count('devices', deviceIds.length, same);

    const grantRows = all<{ grant_id: string; stored_at: string | null }>(
      source,
      'SELECT grant_id, stored_at FROM grants',
    );
    same = 0;
    for (const { grant_id, stored_at } of grantRows) {
      const grant = await source.grants.get(grant_id);
      if (grant === null) continue;
      await target.grants.put(grant, stored_at ?? undefined);
      if (isDeepStrictEqual(await target.grants.get(grant_id), grant)) same++;
    }
    count('grants', grantRows.length, same);

    const accepted = all<{ grantee_id: string; patient_id: string; accepted_at: string }>(
      source,
      'SELECT * FROM accepted_patients',
    );
    for (const a of accepted) {
      await target.acceptances.put(
        { granteeId: a.grantee_id, patientId: a.patient_id, acceptedAt: a.accepted_at },
        Number.MAX_SAFE_INTEGER,
      );
    }
    same = 0;
    for (const a of accepted) if (await target.acceptances.has(a.grantee_id, a.patient_id)) same++;
    count('acceptances', accepted.length, same);

    const recipients = all<{ recipient: string }>(source, 'SELECT DISTINCT recipient FROM envelopes');
    let envelopes = 0;
    same = 0;
    for (const { recipient } of recipients) {
      const list: Envelope[] = await source.envelopes.list(recipient);
      envelopes += list.length;
      for (let i = 0; i < list.length; i += 500) await target.envelopes.putAll(list.slice(i, i + 500));
      const back = await target.envelopes.list(recipient);
      if (isDeepStrictEqual(back, list)) same += back.length;
    }
    count('envelopes', envelopes, same);

    const heads = all<{ stream: string; head: number }>(
      source,
      'SELECT stream, head FROM stream_heads ORDER BY stream',
    );
    let docs = 0;
    let docsSame = 0;
    let headsSame = 0;
    for (const { stream, head } of heads) {
      const list = await streamDocs(source, stream);
      docs += list.length;
      const kept = await source.heads.get(stream, undefined, Number.MAX_SAFE_INTEGER);
      await target.migration.stream(
        stream,
        head,
        list,
        kept === null ? undefined : { seq: kept.head.seq, signed: kept.head.signed, rows: kept.rows },
      );
      const back = await streamDocs(target, stream);
      if (isDeepStrictEqual(back, list)) docsSame += back.length;
      const [moved] = await target.docs.streamHeads([stream]);
      if (moved?.head === head) headsSame++;
    }
    count('documents', docs, docsSame);
    count('stream heads', heads.length, headsSame);

    const blobs = all<{ blob_id: string }>(source, 'SELECT blob_id FROM blob_manifests');
    let chunks = 0;
    let chunksSame = 0;
    same = 0;
    for (const { blob_id } of blobs) {
      const manifest = await source.blobs.getManifest(blob_id);
      if (manifest === null) continue;
      await target.blobs.putManifest(manifest);
      if (isDeepStrictEqual(await target.blobs.getManifest(blob_id), manifest)) same++;
      for (const index of await source.blobs.chunkIndexes(blob_id)) {
        const bytes = await source.blobs.getChunk(blob_id, index);
        if (bytes === null) continue;
        chunks++;
        await target.blobs.putChunk(blob_id, index, bytes);
        const back = await target.blobs.getChunk(blob_id, index);
        if (back !== null && Buffer.compare(Buffer.from(back), Buffer.from(bytes)) === 0) chunksSame++;
      }
    }
    count('blobs', blobs.length, same);
    count('blob chunks', chunks, chunksSame);
    const tombstones = all<{ blob_id: string }>(source, 'SELECT blob_id FROM blob_tombstones');
    same = 0;
    for (const { blob_id } of tombstones) {
      const t = await source.blobs.getTombstone(blob_id);
      if (t === null) continue;
      await target.migration.tombstone(t);
      if (isDeepStrictEqual(await target.blobs.getTombstone(blob_id), t)) same++;
    }
    count('blob tombstones', tombstones.length, same);

    const invites = await source.invites.list();
    for (const invite of invites) await target.invites.put(invite);
    count(
      'invites',
      invites.length,
      isDeepStrictEqual(await target.invites.list(), invites) ? invites.length : 0,
    );

    const providers: ProviderEntry[] = [];
    for (let after: ProviderEntry | undefined; ;) {
      const page = await source.directory.searchProviders('', 500, after);
      providers.push(...page);
      after = page.at(-1);
      if (page.length < 500) break;
    }
    for (const p of providers) await target.directory.putProvider(p);
    const back = await target.directory.searchProviders('', Math.max(1, providers.length));
    count('directory entries', providers.length, isDeepStrictEqual(back, providers) ? back.length : 0);

    const published = all<{ account_id: string }>(source, 'SELECT account_id FROM provider_availability');
    same = 0;
    for (const { account_id: accountId } of published) {
      const entry = await source.availability.get(accountId);
      if (entry === null) continue;
      await target.availability.put(entry);
      if (isDeepStrictEqual(await target.availability.get(accountId), entry)) same += 1;
    }
    count('availabilities', published.length, same);

    const links = all<{ token_hash: string }>(source, 'SELECT token_hash FROM shl_links ORDER BY link_id');
    let accesses = 0;
    let accessesSame = 0;
    same = 0;
    for (const { token_hash } of links) {
      const link = await source.shl.byToken(token_hash);
      if (link === null) continue;
      const log = await source.shl.accesses(link.patientId, link.linkId, Number.MAX_SAFE_INTEGER);
      accesses += log.length;
      await target.shl.importLink(link, [...log].reverse());
      if (isDeepStrictEqual(await target.shl.byToken(token_hash), link)) same++;
      const back = await target.shl.accesses(link.patientId, link.linkId, Number.MAX_SAFE_INTEGER);
      if (isDeepStrictEqual(back, log)) accessesSame += back.length;
    }
    count('links', links.length, same);
    count('link accesses', accesses, accessesSame);

    const sessions = all<{ token_hash: string; device_id: string; account_id: string; expires_at: string }>(
      source,
      'SELECT token_hash, device_id, account_id, expires_at FROM sessions',
    );
    same = 0;
    for (const s of sessions) {
      const session = {
        tokenHash: s.token_hash,
        deviceId: s.device_id,
        accountId: s.account_id,
        expiresAt: s.expires_at,
      };
      await target.sessions.put(session);
      if (
        (await target.sessions.get(s.token_hash)) !== null ||
        (await source.sessions.get(s.token_hash)) === null
      )
        same++;
    }
    count('sessions', sessions.length, same);
  } finally {
    await source.close();
  }
  for (const c of counts)
    say(
      `${c.what.padEnd(18)} ${String(c.source).padStart(8)} → ${String(c.target).padStart(8)}${c.source === c.target ? '' : '  MISMATCH'}`,
    );
  return counts;
};
