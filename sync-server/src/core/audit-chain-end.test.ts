// The refusal of an audit entry at a chain position its device already holds names where the server holds
// that device's chain end in the stream (`chainEnd`), so an honest device whose chain state went back can
// continue after it. It names the pushing device's own chain only, however far others' chains reach. Runs
// a real server and store over the socket.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base64urlDecode, chainLinkHash } from '@hale/crypto';
import { auditSignaturePayload, type PushDoc, type PushResult } from '@hale/protocol';
import {
  addDevice,
  connect,
  makeAuditDoc,
  outcomeOf,
  pushNew,
  registerAccount,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from '../testing/harness';

let t: TestServer;
let patient: TestAccount;
const clients: WsClient[] = [];

beforeEach(async () => {
  t = await startServer();
  patient = await registerAccount(t);
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await t.stop();
});

const open = async (device: TestDevice): Promise<WsClient> => {
  const c = await connect(t, device);
  clients.push(c);
  return c;
};
const push = pushNew;
const outcome = outcomeOf;
/** The link hash a device computes over `doc` as signed (the next entry's `prevHash`). */
const linkOf = (doc: PushDoc): string => {
  const sig = base64urlDecode(doc.sig ?? '');
  if (!sig.ok || doc.audit === undefined) throw new Error('not a signed audit entry');
  return chainLinkHash(auditSignaturePayload({ ...doc, audit: doc.audit }), sig.value);
};
/** `count` entries of `author`'s chain from position `from`, each linked to the one before. */
const chain = async (author: TestDevice, from: number, count: number, prev: string | null = null) => {
  const out: PushDoc[] = [];
  for (let n = from; n < from + count; n++) {
    const doc = await makeAuditDoc(patient, author, {
      authorSeq: n,
      prevHash: out.at(-1) ? linkOf(out.at(-1)!) : prev,
    });
    out.push(doc);
  }
  return out;
};
const chainEndOf = (r: PushResult | undefined) => (r?.status === 'error' ? r.chainEnd : undefined);

describe("the refusal of an audit entry at a position its device holds names the device's chain end", () => {
  it('as stored after the push: its position and link hash; the later rows of the stream name none', async () => {
    const p = await open(patient.device);
    const stored = await chain(patient.device, 1, 3);
    expect((await push(p, stored)).map(outcome)).toEqual(['ok', 'ok', 'ok']);

    // Its state went back to position 1: the next two entries meet positions 2 and 3.
    const again = await chain(patient.device, 2, 2, linkOf(stored[0]!));
    const results = await push(p, again);
    expect(results.map(outcome)).toEqual(['APPEND_ONLY', 'APPEND_ONLY']);
    expect(chainEndOf(results[0])).toEqual({ authorSeq: 3, linkHash: linkOf(stored[2]!) });
    expect(chainEndOf(results[1])).toBeUndefined();

    // Continued after that end, it is stored.
    const continued = await chain(patient.device, 4, 2, linkOf(stored[2]!));
    expect((await push(p, continued)).map(outcome)).toEqual(['ok', 'ok']);
  });

  it('counts the rows the same push stored before the refused one', async () => {
    const p = await open(patient.device);
    const [one] = await chain(patient.device, 1, 1);
    expect((await push(p, [one!])).map(outcome)).toEqual(['ok']);
    const [two] = await chain(patient.device, 2, 1, linkOf(one!));
    const [taken] = await chain(patient.device, 1, 1);
    const results = await push(p, [two!, taken!]);
    expect(results.map(outcome)).toEqual(['ok', 'APPEND_ONLY']);
    expect(chainEndOf(results[1])).toEqual({ authorSeq: 2, linkHash: linkOf(two!) });
  });

  it('by position, not by the order its entries were stored in (positions 2 and 3 after 4)', async () => {
    const p = await open(patient.device);
    const [one, two, three, four] = await chain(patient.device, 1, 4);
    // As a device sends entries acknowledged before a restore that lost them again after a newer one.
    expect((await push(p, [one!, four!])).map(outcome)).toEqual(['ok', 'ok']);
    expect((await push(p, [two!, three!])).map(outcome)).toEqual(['ok', 'ok']);

    const [taken] = await chain(patient.device, 4, 1, linkOf(three!));
    const results = await push(p, [taken!]);
    expect(results.map(outcome)).toEqual(['APPEND_ONLY']);
    expect(chainEndOf(results[0])).toEqual({ authorSeq: 4, linkHash: linkOf(four!) });
  });

  it("names the pushing device's own chain only, however far other devices' chains reach", async () => {
    const otherDevice = await addDevice(t, patient);
    const p = await open(patient.device);
    const q = await open(otherDevice);
    const mine = await chain(patient.device, 1, 2);
    expect((await push(p, mine)).map(outcome)).toEqual(['ok', 'ok']);
    // Another device of the account, later in the log and further along its chain.
    expect((await push(q, await chain(otherDevice, 1, 5))).map(outcome)).toEqual(Array(5).fill('ok'));

    const [taken] = await chain(patient.device, 1, 1);
    const results = await push(p, [taken!]);
    expect(chainEndOf(results[0])).toEqual({ authorSeq: 2, linkHash: linkOf(mine[1]!) });
  });
});
