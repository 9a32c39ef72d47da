// Test harness (harness-store): What tests read or write beside the server in its store: the patient's
// access log as a device reads it, tables and rows, raw grants, directory entries.
// Re-exported by harness.ts, which tests import.
import {
  directoryProfilePayload,
  AccessEventBody,
  validate,
  type Grant,
  type ProviderProfile,
} from '@hale/protocol';
import { base64urlEncode, deriveAccountKeys, generateRootSecret, openSealed, utf8Decode } from '@hale/crypto';
import { newId } from '@hale/model';
import type { SqliteStore } from '../store/index';
import { x25519, sign, type TestServer } from './harness-server';
import type { TestAccount } from './harness-accounts';
import { streamOf } from './harness-ws';

/** An access event the server logged in a patient's audit stream, as the patient's devices open it. */
/** A server access event as devices read it (@hale/protocol AccessEventBody). */
export type ServerAccessEntry = AccessEventBody;

/** The server's access events in `patient`'s audit stream, in chain order, opened with the patient's key. */
export const serverAccessEntries = async (
  t: TestServer,
  patient: TestAccount,
): Promise<ServerAccessEntry[]> => {
  const page = await t.store.docs.readDocs(streamOf(patient.accountId, 'audit'), 0, 10_000, 1 << 24);
  return page.docs
    .filter((d) => d.author === t.server.server.serverId)
    .map((d) => {
      const opened = openSealed(patient.keys.wrapping, d.ct, x25519);
      const text = opened.ok ? utf8Decode(opened.value) : opened;
      if (!text.ok) throw new Error(text.error.message);
      // Checked as strictly as the schema allows: a field the devices would drop is a server defect here.
      const entry = validate(AccessEventBody, JSON.parse(text.value));
      if (!entry.ok) throw new Error(`not an access event: ${text.value}`);
      return entry.value;
    });
};

export const tableNames = (store: SqliteStore): string[] =>
  (
    store.db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      )
      .all() as Array<{ name: string }>
  ).map((r) => r.name);

/** Row count of every table: the "nothing was stored" check. */
export const rowCounts = (store: SqliteStore): Record<string, number> =>
  Object.fromEntries(
    tableNames(store).map((name) => [
      name,
      (store.db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n,
    ]),
  );

/** The raw SQLite row of a document (every column), or undefined. */
export const docRow = (store: SqliteStore, stream: string, id: string): Record<string, unknown> | undefined =>
  store.db.prepare('SELECT * FROM docs WHERE stream = ? AND id = ?').get(stream, id) as
    Record<string, unknown> | undefined;

/**
 * Writes `count` grants from `patient` to `grantee` straight into the table, bypassing `grant` and its
 * caps (as many strangers together could leave it), in one transaction.
 * Each carries a well-formed, unchecked signature. `now` places them: started an hour before it, issued
 * one millisecond apart from then; `expiresAt` (default `now` + 48 h) and `revokedAt` choose their state.
 */
export const insertRawGrants = (
  store: SqliteStore,
  patient: Pick<TestAccount, 'accountId'>,
  grantee: Pick<TestAccount, 'accountId'>,
  count: number,
  options: {
    now: number;
    expiresAt?: number;
    revokedAt?: number;
    purpose?: string;
    scope?: Grant['scope'];
  },
): string[] => {
  const iso = (ms: number) => new Date(ms).toISOString();
  const insert = store.db.prepare(
    `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at,
       signed, revoked_at, revocation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  // Well-formed and as long as `options.purpose` sealed (sealGrantPurpose's layout), never opened: the
  // grants' signatures are not real either.
  const textBytes = Buffer.byteLength(options.purpose ?? 'flood');
  const b64 = (bytes: number): string => 'A'.repeat(Math.ceil((bytes * 4) / 3));
  const floodPurpose = {
    ct: b64(40 + Math.ceil((2 + textBytes) / 128) * 128),
    patient: b64(183),
    grantee: b64(183),
  };
  const ids: string[] = [];
  store.db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const grantId = newId();
      const grant: Grant = {
        v: 1,
        grantId,
        patientId: patient.accountId,
        granteeId: grantee.accountId,
        scope: options.scope ?? [{ type: 'allergy', access: 'read' }],
        start: iso(options.now - 3600_000),
        expiresAt: iso(options.expiresAt ?? options.now + 48 * 3600_000),
        purpose: floodPurpose,
        issuedAt: iso(options.now - 3600_000 + i),
      };
      insert.run(
        grant.grantId,
        grant.patientId,
        grant.granteeId,
        JSON.stringify(grant.scope),
        grant.start,
        grant.expiresAt,
        grant.issuedAt,
        JSON.stringify({ grant, sig: 'A'.repeat(86) }),
        options.revokedAt === undefined ? null : iso(options.revokedAt),
      );
      ids.push(grant.grantId);
    }
  })();
  return ids;
};

/**
 * A provider account with real keys and its directory entry, signed by its identity key as a client signs
 * it, written through the store (many at a time without a registration each). `at` (ISO) is its creation
 * and update time; the identifier defaults to one derived from the account id. Returns the account id.
 */
export const insertDirectoryProvider = async (
  store: SqliteStore,
  entry: Omit<ProviderProfile, 'accountId' | 'identifier'> & { identifier?: string },
  at: string,
): Promise<string> => {
  const keys = deriveAccountKeys(generateRootSecret());
  await store.accounts.put({
    accountId: keys.accountId,
    role: 'provider',
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
    wrappedRoot: {},
    wrappedRootGen: 0,
    wrappedRootSig: null,
    createdAt: at,
  });
  const profile: ProviderProfile = {
    accountId: keys.accountId,
    identifier: `NPI-${keys.accountId.slice(0, 6)}`,
    ...entry,
  };
  const sig = await sign(keys.identity.secretKey, directoryProfilePayload(profile));
  await store.directory.putProvider({ ...profile, signed: { profile, sig }, updatedAt: at });
  return keys.accountId;
};
