// A push checks each row's key epoch against the stream's, then awaits its signature checks (and, for a
// grantee, the audit chain's lock) before the store writes. A key rotation committed in that gap must
// still refuse the row STALE_EPOCH: the rotation is what shuts out a grantee whose consent ended, and
// that grantee holds the old key. Here the grantee's signature check is held until the rotation is stored.
import type { Ed25519 } from '@hale/crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ed,
  makeDoc,
  makeEnvelope,
  makeGrant,
  principalOf,
  registerAccount,
  startServer,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { createSyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;

/** Ed25519 whose next verification, once armed, waits until released. */
const gatedEd = () => {
  let armed: { reached: () => void; release: Promise<void> } | null = null;
  const gate: Ed25519 = {
    name: 'gated',
    sign: ed.sign,
    verify: async (publicKey, msg, sig) => {
      const held = armed;
      armed = null;
      if (held !== null) {
        held.reached();
        await held.release;
      }
      return ed.verify(publicKey, msg, sig);
    },
  };
  const arm = () => {
    let reached!: () => void;
    let release!: () => void;
    const isReached = new Promise<void>((resolve) => (reached = resolve));
    armed = { reached, release: new Promise<void>((resolve) => (release = resolve)) };
    return { reached: isReached, release };
  };
  return { gate, arm };
};

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
});
afterEach(async () => {
  await t.stop();
});

it('a rotation stored while a push awaits its signature check refuses the old-epoch row; nothing is stored', async () => {
  const { gate, arm } = gatedEd();
  const service = createSyncService({
    store: t.store,
    now: () => t.clock.now,
    ed: gate,
    server: t.server.server,
  });
  const signed = await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }], {
    now: t.clock.now,
  });
  await service.grant(principalOf(patient), signed);
  const doc = await makeDoc(patient, provider.device, 'allergy', { substance: 'peanut' }, { epoch: 0 });

  const held = arm();
  const pushing = service.push(principalOf(provider), { rows: [{ doc, assumedRev: null }] });
  await held.reached;
  // The patient rotates the stream's key meanwhile (the provider gets no envelope of the new epoch).
  await service.putEnvelopes(principalOf(patient), [
    await makeEnvelope(patient, patient.device, patient, 'allergy', 1),
  ]);
  expect(await t.store.envelopes.currentEpoch(doc.stream)).toBe(1);
  held.release();

  const [result] = await pushing;
  expect(result).toMatchObject({ status: 'error', stream: doc.stream, id: doc.id, code: 'STALE_EPOCH' });
  expect(await t.store.docs.getDoc(doc.stream, doc.id)).toBeNull();
  expect((await t.store.docs.streamHeads([doc.stream]))[0]?.head).toBe(0);

  // Without a rotation in between, the same kind of row is stored (the gate itself refuses nothing).
  const later = await makeDoc(patient, provider.device, 'allergy', { substance: 'latex' }, { epoch: 1 });
  const [ok] = await service.push(principalOf(provider), { rows: [{ doc: later, assumedRev: null }] });
  expect(ok).toMatchObject({ status: 'ok', id: later.id });
});
