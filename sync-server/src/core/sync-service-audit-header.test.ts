// The sync service's own refusal of an audit header outside the audit stream (and of an audit entry
// without one). Over the socket the frame codec refuses both first (sync-service.test.ts), so here the
// service is called directly, as a codec that let them through would call it: the row is refused with
// its code and nothing is stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { docSignaturePayload, type PushDoc } from '@hale/protocol';
import {
  docRow,
  makeAuditDoc,
  makeDoc,
  principalOf,
  registerAccount,
  rowCounts,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
} from '../testing/harness';

let t: TestServer;
let patient: TestAccount;

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
});
afterEach(async () => {
  await t.stop();
});

const pushDirect = (doc: PushDoc) =>
  t.server.service.push(principalOf(patient), { rows: [{ doc, assumedRev: null }] });

describe('sync service push, past the frame codec', () => {
  it('refuses an allergy record carrying an audit header (BAD_MESSAGE); nothing is stored', async () => {
    const header = { authorSeq: 1, prevHash: null, at: new Date(t.clock.now).toISOString() };
    const allergy = await makeDoc(patient, patient.device, 'allergy', { title: 'x' });
    const counts = rowCounts(t.store);
    expect(await pushDirect({ ...allergy, audit: header })).toEqual([
      expect.objectContaining({ status: 'error', id: allergy.id, code: 'BAD_MESSAGE' }),
    ]);
    expect(docRow(t.store, allergy.stream, allergy.id)).toBeUndefined();
    expect(rowCounts(t.store)).toEqual(counts);

    // The same record without the header is stored.
    expect(await pushDirect(allergy)).toEqual([expect.objectContaining({ status: 'ok', id: allergy.id })]);
    expect(docRow(t.store, allergy.stream, allergy.id)).toBeDefined();
  });

  it('refuses an audit entry without its header (APPEND_ONLY); nothing is stored', async () => {
    const { audit: _header, ...bare } = await makeAuditDoc(patient, patient.device);
    const doc = { ...bare, sig: await sign(patient.device.keys.secretKey, docSignaturePayload(bare)) };
    const counts = rowCounts(t.store);
    expect(await pushDirect(doc)).toEqual([
      expect.objectContaining({ status: 'error', id: doc.id, code: 'APPEND_ONLY' }),
    ]);
    expect(docRow(t.store, doc.stream, doc.id)).toBeUndefined();
    expect(rowCounts(t.store)).toEqual(counts);
  });
});
