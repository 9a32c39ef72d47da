// `putEnvelopes` stores a key rotation's envelopes all or none. A store failure on one of them (a disk
// error, a kill) must not leave the others: a grantee's epoch-1 envelope alone moves the stream's current
// epoch to 1 while the patient's own is missing, so the patient's other devices are refused STALE_EPOCH
// and cannot fetch the key to catch up.
import { generateRootSecret } from '@hale/crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  makeEnvelope,
  principalOf,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;

const epochOneRows = (stream: string): number =>
  t.store.db
    .prepare<[string], { n: number }>('SELECT count(*) AS n FROM envelopes WHERE stream = ? AND epoch = 1')
    .get(stream)!.n;

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
});
afterEach(async () => {
  await t.stop();
});

it('a store failure on the second envelope of a rotation stores none of them and leaves the epoch', async () => {
  const service = t.server.service;
  const stream = streamOf(patient.accountId, 'allergy');
  const key = generateRootSecret();
  // The grantee's envelope first, then the patient's own: the order a rotation may send them in.
  const envelopes = [
    await makeEnvelope(patient, patient.device, provider, 'allergy', 1, key),
    await makeEnvelope(patient, patient.device, patient, 'allergy', 1, key),
  ];
  const epochBefore = await t.store.envelopes.currentEpoch(stream);
  // A failure inside the store on the patient's row, whichever way the store writes the batch.
  t.store.db.exec(`CREATE TEMP TRIGGER fail_second BEFORE INSERT ON main.envelopes
    WHEN NEW.recipient = '${patient.accountId}' AND NEW.epoch = 1
    BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);

  await expect(service.putEnvelopes(principalOf(patient), envelopes)).rejects.toThrow();
  expect(epochOneRows(stream)).toBe(0);
  expect(await t.store.envelopes.currentEpoch(stream)).toBe(epochBefore);

  // Sent again once the store works, both are stored.
  t.store.db.exec('DROP TRIGGER temp.fail_second');
  await service.putEnvelopes(principalOf(patient), envelopes);
  expect(epochOneRows(stream)).toBe(2);
  expect(await t.store.envelopes.currentEpoch(stream)).toBe(1);
});
