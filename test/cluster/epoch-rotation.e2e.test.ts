// A key rotation stored through one node refuses pushes sealed under the old epoch on another node, whose
// push path reads no epoch before the write (the store checks it in the write's commit, on the shard
// state): before and after that node has seen the new epoch, nothing of a refused row is stored.
import { expect, it } from 'vitest';
import type { PushDoc, PushResult } from '@hale/protocol';
import {
  addDevice,
  makeDoc,
  makeEnvelope,
  registerAccount,
  streamOf,
  type WsClient,
} from '@hale/sync-server/testing';
import { useCouchCluster } from './support';

const cluster = useCouchCluster();

const push = async (client: WsClient, doc: PushDoc): Promise<PushResult> => {
  const answer = await client.request({ t: 'push', rid: client.rid(), rows: [{ doc, assumedRev: null }] });
  if (answer.t !== 'pushed') throw new Error(`push answered ${JSON.stringify(answer)}`);
  const [result] = answer.results;
  if (result === undefined) throw new Error('no row in the answer');
  return result;
};

it('a rotation through node B refuses old-epoch pushes on node A, which stored epoch 0 rows before', async () => {
  const [a, b] = await cluster.startNodes(2, 'epoch');
  const patient = await registerAccount(a);
  const other = await addDevice(b, patient);
  const onA = await cluster.open(a, patient.device);
  const onB = await cluster.open(b, other);
  const stream = streamOf(patient.accountId, 'allergy');
  const ids = new Map<string, string>();
  const doc = async (title: string, epoch: number) => {
    const made = await makeDoc(patient, patient.device, 'allergy', { title }, { epoch });
    ids.set(made.id, title);
    return made;
  };

  // Node A stores (and so learns) epoch 0.
  expect((await push(onA, await doc('before', 0))).status).toBe('ok');
  const envelope = await makeEnvelope(patient, other, patient, 'allergy', 1, new Uint8Array(32).fill(7));
  expect((await onB.request({ t: 'putEnvelopes', rid: onB.rid(), envelopes: [envelope] })).t).toBe('ok');

  // Node A has not seen epoch 1: its store's commit refuses the row.
  const stale = await push(onA, await doc('stale-1', 0));
  expect(stale).toMatchObject({ status: 'error', code: 'STALE_EPOCH' });
  expect(stale.status === 'error' ? stale.message : '').toContain('epoch is 1');
  expect((await push(onA, await doc('after', 1))).status).toBe('ok');
  // Now known on node A: refused again (early), and still nothing stored.
  expect(await push(onA, await doc('stale-2', 0))).toMatchObject({ status: 'error', code: 'STALE_EPOCH' });
  // A row claiming a later epoch than the stream's is refused by the store too.
  expect(await push(onA, await doc('ahead', 2))).toMatchObject({ status: 'error', code: 'STALE_EPOCH' });

  const page = await b.store.docs.readDocs(stream, 0, 100, 1 << 24);
  expect(page.docs.map((d) => [ids.get(d.id), d.epoch])).toEqual([
    ['before', 0],
    ['after', 1],
  ]);
});
