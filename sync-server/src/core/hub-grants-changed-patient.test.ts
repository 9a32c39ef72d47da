// A grant or revoke concerns one patient, yet `grantsChanged` used to reload all of the grantee's grants on
// each of its connections: for a clinic's provider following 10,000 patients, 10,000 grant rows read,
// parsed and diffed per connection before the patient's grant or revoke could answer. Told the patient,
// it reloads only that patient's grants, merged over the rest the connection holds (as a subscribe
// does), and re-decides from them exactly as a full reload would. The clinic is built straight in the store
// (bare account and grant rows, as stream-listing-scale.test.ts does); the store calls and grant rows read
// are counted, and the time each took is printed, never asserted.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GRANTABLE_STREAM_TYPES, type ServerFrame } from '@hale/protocol';
import { createNodeEd25519 } from '@hale/crypto/node';
import { openSqliteStore, type Grant, type SqliteStore, type SyncStore } from '../store/index';
import { createHub, type Hub, type LiveConnection } from './hub';
import { accessChangedIn, recordingConnection } from './hub.test-util';
import { createSyncService } from './sync-service';

const PATIENTS = 10_000;
const NOW = Date.parse('2031-03-01T12:00:00.000Z');
const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const newAccountId = () => randomBytes(16).toString('base64url');

/** `store`, counting the calls of its unended-grant listings and the rows they answer. */
const counting = (store: SyncStore) => {
  const calls = { all: 0, from: [] as string[][], rows: [] as Grant[] };
  const rows = (grants: Grant[]): Grant[] => {
    calls.rows.push(...grants);
    return grants;
  };
  const g = store.grants;
  const wrapped: SyncStore = {
    ...store,
    grants: {
      ...g,
      listUnended: async (...a) => {
        calls.all++;
        return rows(await g.listUnended(...a));
      },
      listUnendedFrom: async (...a) => {
        calls.from.push([...a[1]]);
        return rows(await g.listUnendedFrom(...a));
      },
    },
  };
  const reset = () => {
    calls.all = 0;
    calls.from.length = 0;
    calls.rows.length = 0;
  };
  return { store: wrapped, calls, reset };
};

describe(`grantsChanged for a provider following ${PATIENTS} patients`, { timeout: 300_000 }, () => {
  let dir: string;
  let store: SqliteStore;
  let providerId: string;
  let patients: string[];
  let addAccount: (id: string) => void;
  let addGrant: (patientId: string) => string;
  const timings: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hale-hub-patient-'));
    store = await openSqliteStore({ dataDir: dir });
    providerId = newAccountId();
    patients = Array.from({ length: PATIENTS }, newAccountId);
    const accountRow = store.db.prepare(
      `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
       VALUES (?, ?, 'idk', 'wrk', '{}', ?)`,
    );
    const grantRow = store.db.prepare(
      `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at,
         signed, revoked_at, revocation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
    );
    let issued = NOW - 48 * HOUR;
    addAccount = (id) => void accountRow.run(id, 'patient', iso(NOW));
    addGrant = (patientId) => {
      issued += 1;
      const scope = GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'read' as const }));
      const g = {
        v: 1,
        grantId: randomBytes(16).toString('base64url'),
        patientId,
        granteeId: providerId,
        scope,
        start: iso(NOW - 24 * HOUR),
        expiresAt: iso(NOW + 24 * HOUR),
        purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
        issuedAt: iso(issued),
      };
      grantRow.run(
        g.grantId,
        patientId,
        providerId,
        JSON.stringify(scope),
        g.start,
        g.expiresAt,
        g.issuedAt,
        JSON.stringify({ grant: g, sig: 'A'.repeat(86) }),
      );
      return g.grantId;
    };
    store.db.transaction(() => {
      accountRow.run(providerId, 'provider', iso(NOW));
      for (const p of patients) {
        addAccount(p);
        addGrant(p);
      }
    })();
  }, 120_000);
  afterAll(async () => {
    console.info(`hub grantsChanged at ${PATIENTS} patients\n  ${timings.join('\n  ')}`);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  let hub: Hub;
  let count: ReturnType<typeof counting>;
  let frames: ServerFrame[];
  let conn: LiveConnection;
  beforeEach(() => {
    count = counting(store);
    const service = createSyncService({
      store: count.store,
      now: () => NOW,
      ed: createNodeEd25519(),
      server: { serverId: 'S'.repeat(22), publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
    });
    hub = createHub({ store: count.store, service, now: () => NOW });
    frames = [];
    conn = recordingConnection({ accountId: providerId, deviceId: 'D'.repeat(22), role: 'provider' }, frames);
    return async () => {
      hub.stop();
      await hub.drain();
    };
  });

  const accessChanged = () => accessChangedIn(frames);
  const timed = async (label: string, work: () => Promise<void>) => {
    const start = performance.now();
    await work();
    timings.push(`${label}: ${(performance.now() - start).toFixed(0)} ms`);
  };
  const streamsOf = (patientId: string) => GRANTABLE_STREAM_TYPES.map((type) => `${patientId}/${type}`);

  it("reloads only the named patient's grants, and decides from them as a full reload does", async () => {
    const [revoked, kept] = [patients[0]!, patients[1]!];
    await hub.add(conn);
    expect(count.calls.all).toBe(1);
    expect(count.calls.rows).toHaveLength(PATIENTS);
    const subscribed = [`${revoked}/allergy`, `${kept}/allergy`];
    expect(
      await hub.subscribe(
        conn,
        subscribed.map((stream) => ({ stream, since: 0 })),
      ),
    ).toEqual({ ok: true });

    store.db.prepare('UPDATE grants SET revoked_at = ? WHERE patient_id = ?').run(iso(NOW - 1), revoked);
    count.reset();
    await timed("grantsChanged naming the patient (revoke: that patient's grants)", () =>
      hub.grantsChanged(providerId, revoked),
    );
    // One read, of the one patient (whose only grant is now revoked: no rows), instead of every grant.
    const { all, from, rows } = count.calls;
    expect({ all, from, rows: rows.length }).toStrictEqual({ all: 0, from: [[revoked]], rows: 0 });
    const [frame] = accessChanged();
    expect(accessChanged()).toHaveLength(1);
    expect(frame!.streams).toEqual([]);
    expect(frame!.removed.map((r) => `${r.stream} ${r.reason}`).sort()).toStrictEqual(
      streamsOf(revoked)
        .map((stream) => `${stream} revoked`)
        .sort(),
    );
    expect(hub.subscriptions()).toBe(1);

    // A full reload now finds nothing to announce: the merged grants decided as all of them do.
    frames.length = 0;
    count.reset();
    await timed('grantsChanged not naming the patient (all grants, as before)', () =>
      hub.grantsChanged(providerId),
    );
    expect(count.calls.all).toBe(1);
    expect(count.calls.rows).toHaveLength(PATIENTS - 1);
    expect(accessChanged()).toEqual([]);
    expect(hub.subscriptions()).toBe(1);

    // Warm, with nothing to announce: what each path costs a connection (printed, not asserted).
    for (let round = 1; round <= 3; round++) {
      await timed(`  warm ${round}, naming a patient`, () => hub.grantsChanged(providerId, kept));
      await timed(`  warm ${round}, not naming one`, () => hub.grantsChanged(providerId));
    }
    expect(accessChanged()).toEqual([]);
  });

  it("announces a new patient's grant reading only that patient's", async () => {
    const added = newAccountId();
    addAccount(added);
    await hub.add(conn);
    const grantId = addGrant(added);
    count.reset();
    await hub.grantsChanged(providerId, added);
    expect(count.calls.all).toBe(0);
    expect(count.calls.from).toStrictEqual([[added]]);
    expect(count.calls.rows.map((g) => g.grantId)).toStrictEqual([grantId]);
    const [frame] = accessChanged();
    expect(accessChanged()).toHaveLength(1);
    expect(frame!.removed).toEqual([]);
    expect(frame!.streams.map((s) => [s.stream, s.grantId])).toEqual(
      streamsOf(added).map((stream) => [stream, grantId]),
    );
  });
});
