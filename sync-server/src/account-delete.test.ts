// Deleting an account (POST /v1/accounts/me/delete), real server on a loopback port and a real SQLite
// file: only the account itself may (another account, a session naming another account, no session, a
// care team's account: refused, nothing erased); afterwards no table holds a row naming the account or its
// devices, nothing of it is served (account, login, records to its grantee, files), its sessions and
// devices are dead, its open connection is closed, and other accounts keep all of theirs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PulledFrame } from '@hale/protocol';
import {
  addDevice,
  connect,
  http,
  makeAuditDoc,
  makeDoc,
  makeGrant,
  outcomeOf,
  pushNew,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestServer,
} from './testing/harness';
import { storeOneChunkBlob } from './blob-stored.test-util';

/** Rows of every table in which any column's text holds one of `needles`. */
const rowsNaming = (t: TestServer, needles: readonly string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  const tables = t.store.db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .all() as { name: string }[];
  for (const { name } of tables) {
    const cols = (t.store.db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map(
      (c) => c.name,
    );
    const where = cols.flatMap((c) => needles.map(() => `instr(CAST("${c}" AS TEXT), ?) > 0`)).join(' OR ');
    const args = cols.flatMap(() => needles);
    const { n } = t.store.db.prepare(`SELECT count(*) AS n FROM "${name}" WHERE ${where}`).get(...args) as {
      n: number;
    };
    if (n > 0) out[name] = n;
  }
  return out;
};

describe('account deletion', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer({ realClock: true });
  });
  afterEach(async () => {
    await t.stop();
  });

  const del = (token: string | undefined, accountId: string) =>
    http(t.url, 'POST', '/v1/accounts/me/delete', { accountId }, token);

  it('only the account itself; afterwards nothing of it is stored or served, others keep theirs', async () => {
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const provider = await registerAccount(t, 'provider');
    const other = await registerAccount(t);

    // The patient's chart: a record, an audit entry, a grant to the provider, a file.
    const p = await connect(t, patient.device);
    const record = await makeDoc(patient, patient.device, 'allergy', { substance: 'Latex' });
    const audit = await makeAuditDoc(patient, patient.device);
    expect((await pushNew(p, [record, audit])).map(outcomeOf)).toEqual(['ok', 'ok']);
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    const token = await sessionToken(t, patient.device);
    const { blobId } = await storeOneChunkBlob(t, token, patient);
    // Another patient's chart, which must stay.
    const o = await connect(t, other.device);
    const kept = await makeDoc(other, other.device, 'allergy', { substance: 'Dust' });
    const otherAudit = await makeAuditDoc(other, other.device);
    expect((await pushNew(o, [kept, otherAudit])).map(outcomeOf)).toEqual(['ok', 'ok']);

    const naming = [patient.accountId, patient.device.deviceId, second.deviceId];
    const before = rowsNaming(t, naming);
    expect(before).toMatchObject({ accounts: 1, devices: 2, docs: 2, grants: 1, blob_manifests: 1 });

    // Refused, nothing erased: another account; the account naming another; no session; a care team.
    const otherToken = await sessionToken(t, other.device);
    expect(await del(otherToken, patient.accountId)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(await del(token, other.accountId)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await del(undefined, patient.accountId)).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHENTICATED' },
    });
    const providerToken = await sessionToken(t, provider.device);
    expect(await del(providerToken, provider.accountId)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(rowsNaming(t, naming)).toEqual(before);
    expect(rowsNaming(t, [other.accountId]).accounts).toBe(1);

    // The account itself.
    const done = await del(token, patient.accountId);
    expect(done).toMatchObject({
      status: 200,
      body: { accountId: patient.accountId, docs: 2, blobs: 1, grants: 1, devices: 2 },
    });
    expect((await p.closed).reason).toContain('account deleted');
    expect(rowsNaming(t, naming)).toEqual({});

    // Nothing of it is served.
    expect((await http(t.url, 'GET', `/v1/accounts/${patient.accountId}`)).status).toBe(404);
    expect((await http(t.url, 'POST', '/v1/join', { loginName: patient.loginName })).status).toBe(404);
    expect(await http(t.url, 'GET', `/v1/blobs/${blobId}`, undefined, token)).toMatchObject({ status: 401 });
    expect(await del(token, patient.accountId)).toMatchObject({ status: 401 });
    await expect(sessionToken(t, second)).rejects.toThrow(/401.*unknown device/);
    const d = await connect(t, provider.device);
    const pulled = await d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream: streamOf(patient.accountId, 'allergy'), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.docs).toEqual([]);
    expect(pulled.denied.map((x) => x.code)).toEqual(['NO_CONSENT']);

    // The audit log stays append-only for everyone else (the erase lifted its guard for itself only).
    expect(() =>
      t.store.db.prepare('DELETE FROM docs WHERE stream = ?').run(streamOf(other.accountId, 'audit')),
    ).toThrow(/append-only/);

    // The other patient keeps everything.
    const again = await o.request<PulledFrame>({
      t: 'pull',
      rid: o.rid(),
      streams: [{ stream: streamOf(other.accountId, 'allergy'), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(again.docs.map((x) => x.id)).toEqual([kept.id]);
    await Promise.all([d.close(), o.close()]);
  });
});
