// The documented restore (docs/operations.md: stop, restore, start) with a real server and real signed
// state: what was revoked, rotated or changed after the backup stays so, no seq served before the restore
// is handed out again, and devices are told (ready.incarnation).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { TEST_KDF, generateRootSecret, wrapRootWithPassphrase } from '@hale/crypto';
import {
  wrappedRootSignaturePayload,
  type GrantsFrame,
  type PulledFrame,
  type PushedFrame,
  type PushDoc,
} from '@hale/protocol';
import { backupSqlite, INCARNATION_META_KEY, restoreSqlite } from './store/index';
import {
  addDevice,
  connect,
  http,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  registerAccount,
  revokeDevice,
  serverAccessEntries,
  sessionToken,
  sign,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from './testing/harness';

let dir = '';
let t: TestServer | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pull = (c: WsClient, stream: string, since = 0) =>
  c.request<PulledFrame>({
    t: 'pull',
    rid: c.rid(),
    streams: [{ stream: stream as PushDoc['stream'], since }],
    limit: 100,
    maxBytes: 1 << 20,
  });

const push = async (c: WsClient, doc: PushDoc) =>
  (await c.request<PushedFrame>({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev: null }] })).results[0];

const changePassphrase = async (server: TestServer, account: TestAccount, by: TestDevice, gen: number) => {
  const wrappedRoot = (await wrapRootWithPassphrase(account.root, `passphrase ${gen}`, TEST_KDF)) as never;
  const sig = await sign(
    account.keys.identity.secretKey,
    wrappedRootSignaturePayload({ accountId: account.accountId, wrappedRoot, gen }),
  );
  const token = await sessionToken(server, by);
  return http(server.url, 'PUT', '/v1/accounts/me/wrapped-root', { wrappedRoot, gen, sig }, token);
};

it('a restore keeps revocations, passphrase changes, key epochs, audit entries and seqs, and tells devices', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hale-restore-'));
  const dataDir = path.join(dir, 'data');
  const backup = path.join(dir, 'backup.sqlite');
  t = await startServer({ dataDir, realClock: true });
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const stolen = await addDevice(t, patient);
  const p = await connect(t, patient.device);
  const incarnationBefore = p.ready.incarnation;
  expect(incarnationBefore).toBe(await t.store.meta.get(INCARNATION_META_KEY));
  const doc = await makeDoc(patient, patient.device, 'allergy', { substance: 'peanut' });
  expect(await push(p, doc)).toMatchObject({ status: 'ok', seq: 1 });
  const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
  expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
  await backupSqlite(t.store, backup);

  // After the backup: the provider reads (the server logs it in the patient's audit stream), the patient
  // writes, changes the passphrase, rotates the stream key, revokes the consent and the stolen device.
  const d = await connect(t, provider.device);
  expect((await pull(d, doc.stream)).docs).toHaveLength(1);
  await d.close();
  const auditStream = `${patient.accountId}/audit`;
  const auditBefore = (await pull(p, auditStream)).docs.map((x) => [x.id, x.seq, x.rev]);
  expect(auditBefore.length).toBeGreaterThan(0);
  const lost = await makeDoc(patient, patient.device, 'allergy', { substance: 'written after the backup' });
  expect(await push(p, lost)).toMatchObject({ status: 'ok', seq: 2 });
  expect((await changePassphrase(t, patient, patient.device, 1)).status).toBe(200);
  const rotated = await makeEnvelope(patient, patient.device, patient, 'allergy', 1, generateRootSecret());
  expect((await p.request({ t: 'putEnvelopes', rid: p.rid(), envelopes: [rotated] })).t).toBe('ok');
  const revocation = await makeRevocation(patient, grant.grant.grantId);
  expect((await p.request({ t: 'revoke', rid: p.rid(), revocation })).t).toBe('ok');
  expect((await revokeDevice(t, patient, stolen)).status).toBe(200);
  await p.close();

  // Operations guide: stop, restore, start.
  await t.stop({ keepData: true });
  t = null;
  const warnings: string[] = [];
  const result = await restoreSqlite(backup, dataDir, { onWarning: (w) => warnings.push(w) });
  expect(warnings).toEqual([]);
  expect(result.carried).toMatchObject({
    deviceRevocations: 1,
    grantRevocations: 1,
    wrappedRoots: 1,
    envelopes: 1,
  });
  t = await startServer({ dataDir, realClock: true });

  // Revocations stay: no session for the stolen device, nothing for the provider.
  const stolenSession = await sessionToken(t, stolen).then(
    () => 'session issued',
    () => 'refused',
  );
  expect(stolenSession).toBe('refused');
  const d2 = await connect(t, provider.device);
  const providerPull = await pull(d2, doc.stream);
  await d2.close();
  expect(providerPull.docs).toEqual([]);
  expect(providerPull.denied.map((x) => x.stream)).toEqual([doc.stream]);

  const p2 = await connect(t, patient.device);
  // A new incarnation, announced in ready.
  expect(p2.ready.incarnation).toBe(result.incarnation);
  expect(p2.ready.incarnation).not.toBe(incarnationBefore);
  // The consent's signed revocation came along and is what the patient signed.
  const grants = await p2.request<GrantsFrame>({ t: 'listGrants', rid: p2.rid() });
  expect(grants.grants.find((g) => g.grant.grant.grantId === grant.grant.grantId)?.revocation).toEqual(
    revocation,
  );
  // The passphrase wrap is the newer generation.
  const token = await sessionToken(t, patient.device);
  const wrap = await http(t.url, 'GET', '/v1/accounts/me/wrapped-root', undefined, token);
  expect(wrap.body).toMatchObject({ gen: 1 });
  // The key epoch did not go back: epoch 0 is stale, and the next document gets a seq above all served.
  const staleEpoch = await makeDoc(patient, patient.device, 'allergy', { substance: 'epoch 0' });
  expect(await push(p2, staleEpoch)).toMatchObject({ status: 'error', code: 'STALE_EPOCH' });
  const next = await makeDoc(
    patient,
    patient.device,
    'allergy',
    { substance: 'after restore' },
    { epoch: 1 },
  );
  expect(await push(p2, next)).toMatchObject({ status: 'ok', seq: 3 });
  // The content is the backup's (the document written after it is gone until a device sends it again).
  expect((await pull(p2, doc.stream)).docs.map((x) => [x.id, x.seq])).toEqual([
    [doc.id, 1],
    [next.id, 3],
  ]);
  // The server's access log of that read is still there, as devices saw it; after it, one `denied` entry:
  // the provider's pull above, refused for the revoked grant.
  const auditAfter = (await pull(p2, auditStream)).docs.map((x) => [x.id, x.seq, x.rev]);
  expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore);
  expect(auditAfter).toHaveLength(auditBefore.length + 1);
  const logged = await serverAccessEntries(t, patient);
  expect(logged.filter((e) => e.action === 'denied').map((e) => [e.actorDeviceId, e.stream])).toEqual([
    [provider.device.deviceId, doc.stream],
  ]);
  await p2.close();
});

it('ready leaves out an incarnation the store holds in a form devices refuse, and the device connects', async () => {
  t = await startServer();
  const patient = await registerAccount(t);
  await t.store.meta.put(INCARNATION_META_KEY, 'not an incarnation!');
  const c = await connect(t, patient.device);
  expect(c.ready.incarnation).toBeUndefined();
  await c.close();
});
