// Signed stream heads on the server (core/heads.ts): what `putHead` refuses (a statement from a device
// not the patient's, or signed by another device, a bad signature, a root not matching the rows, a stale
// seq, frames malformed or oversized), each with its code and nothing kept; and who `getHead`
// serves (the patient's devices and read grantees; not a grantee without a grant on that kind).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leafOfRev, type HeadLeaf, type PushDoc, type SignedHead } from '@hale/protocol';
import { base64urlEncode, headRoot, signCanonical, STREAM_HEAD_LABEL } from '@hale/crypto';
import {
  addDevice,
  connect,
  ed,
  makeDoc,
  makeGrant,
  pushNew,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from './testing/harness';

let t: TestServer;
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  await t.stop();
});

const leavesOf = (docs: readonly PushDoc[]): HeadLeaf[] =>
  docs.map((d) => leafOfRev(d.id, d.rev, d.deleted)!);

const statement = async (
  signer: TestDevice,
  stream: string,
  seq: number,
  leaves: readonly HeadLeaf[],
  device = signer.deviceId,
): Promise<SignedHead> => {
  const head = {
    v: 1 as const,
    stream: stream as SignedHead['head']['stream'],
    ...headRoot(leaves),
    seq,
    at: new Date(t.clock.now).toISOString(),
    device,
  };
  return {
    head,
    sig: base64urlEncode(await signCanonical(ed, signer.keys.secretKey, STREAM_HEAD_LABEL, head)),
  };
};

const put = (c: WsClient, head: SignedHead) => c.request({ t: 'putHead', rid: c.rid(), head });
const get = (c: WsClient, stream: string, extra: { after?: string; limit?: number } = {}) =>
  c.request({ t: 'getHead', rid: c.rid(), stream: stream as SignedHead['head']['stream'], ...extra });

describe('putHead', () => {
  let patient: TestAccount;
  let stream: string;
  let docs: PushDoc[];
  let c: WsClient;
  beforeEach(async () => {
    patient = await registerAccount(t);
    stream = streamOf(patient.accountId, 'allergy');
    c = await connect(t, patient.device);
    docs = [
      await makeDoc(patient, patient.device, 'allergy', { n: 1 }),
      await makeDoc(patient, patient.device, 'allergy', { n: 2 }),
    ];
    expect((await pushNew(c, docs)).map((r) => r.status)).toEqual(['ok', 'ok']);
  });
  afterEach(async () => {
    await c.close();
  });

  it('keeps a true statement at the current seq and serves it with its leaves, in pages', async () => {
    const signed = await statement(patient.device, stream, 2, leavesOf(docs));
    expect(await put(c, signed)).toMatchObject({ t: 'ok' });
    const sorted = leavesOf(docs).sort((a, b) => (a.id < b.id ? -1 : 1));
    const whole = await get(c, stream);
    expect(whole).toMatchObject({ t: 'head', stream, signed, leaves: sorted });
    expect(whole).not.toHaveProperty('next');
    const first = await get(c, stream, { limit: 1 });
    expect(first).toMatchObject({ leaves: [sorted[0]], next: sorted[0]!.id });
    expect(await get(c, stream, { after: sorted[0]!.id, limit: 1 })).toMatchObject({ leaves: [sorted[1]] });
    // The same statement again is ok.
    expect(await put(c, signed)).toMatchObject({ t: 'ok' });
  });

  it('refuses, keeping nothing: bad signature, another signer, a wrong root, a stale seq', async () => {
    const good = await statement(patient.device, stream, 2, leavesOf(docs));
    const other = await addDevice(t, patient);
    const refusals: Array<[SignedHead, string]> = [
      [{ ...good, sig: (await statement(patient.device, stream, 3, leavesOf(docs))).sig }, 'BAD_SIGNATURE'],
      [await statement(other, stream, 2, leavesOf(docs), other.deviceId), 'FORBIDDEN'],
      [await statement(patient.device, stream, 2, leavesOf(docs.slice(1))), 'HEAD_MISMATCH'],
      [
        await statement(patient.device, stream, 2, [{ ...leavesOf(docs)[0]!, rv: 2 }, leavesOf(docs)[1]!]),
        'HEAD_MISMATCH',
      ],
      [await statement(patient.device, stream, 1, leavesOf(docs.slice(0, 1))), 'HEAD_NOT_CURRENT'],
      [await statement(patient.device, stream, 3, leavesOf(docs)), 'HEAD_NOT_CURRENT'],
    ];
    for (const [signed, code] of refusals) expect(await put(c, signed)).toMatchObject({ t: 'error', code });
    expect(await get(c, stream)).toMatchObject({ leaves: [] });
    expect(await get(c, stream)).not.toHaveProperty('signed');
    // A statement kept, then one of a lower seq from a store rolled back below it is refused HEAD_STALE,
    // which `keep` checks; here the seq check refuses it first, as HEAD_NOT_CURRENT with the current seq.
    expect(await put(c, good)).toMatchObject({ t: 'ok' });
    const older = await statement(patient.device, stream, 1, leavesOf(docs.slice(0, 1)));
    expect(await put(c, older)).toMatchObject({ t: 'error', code: 'HEAD_NOT_CURRENT', details: { seq: 2 } });
    expect(await get(c, stream)).toMatchObject({ signed: good });
  });

  it("refuses another account's device, even a grantee with write access, FORBIDDEN", async () => {
    const provider = await registerAccount(t, 'provider');
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'write' }]);
    expect((await c.request({ t: 'grant', rid: c.rid(), grant })).t).toBe('ok');
    const d = await connect(t, provider.device);
    const signed = await statement(provider.device, stream, 2, leavesOf(docs));
    expect(await put(d, signed)).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    expect(await get(c, stream)).not.toHaveProperty('signed');
    await d.close();
  });

  it('refuses malformed or oversized frames as BAD_MESSAGE', async () => {
    const signed = await statement(patient.device, stream, 2, leavesOf(docs));
    const bad = { ...signed, head: { ...signed.head, n: -1 } };
    c.sendRaw(JSON.stringify({ t: 'putHead', rid: 900, head: bad }));
    expect(await c.nextFrame()).toMatchObject({ t: 'error', rid: 900, code: 'BAD_MESSAGE' });
    c.sendRaw(JSON.stringify({ t: 'getHead', rid: 901, stream, limit: 10_001 }));
    expect(await c.nextFrame()).toMatchObject({ t: 'error', rid: 901, code: 'BAD_MESSAGE' });
    expect(await get(c, stream)).not.toHaveProperty('signed');
  });
});

describe('getHead', () => {
  it('serves the patient’s devices and read grantees; refuses a grantee without a grant on that kind', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stream = streamOf(patient.accountId, 'allergy');
    const c = await connect(t, patient.device);
    const docs = [await makeDoc(patient, patient.device, 'allergy', { n: 1 })];
    await pushNew(c, docs);
    const signed = await statement(patient.device, stream, 1, leavesOf(docs));
    expect(await put(c, signed)).toMatchObject({ t: 'ok' });

    const d = await connect(t, provider.device);
    expect(await get(d, stream)).toMatchObject({ t: 'error', code: 'NO_CONSENT' });
    const other = await makeGrant(patient, provider, [{ type: 'medication', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await c.request({ t: 'grant', rid: c.rid(), grant: other })).t).toBe('ok');
    expect(await get(d, stream)).toMatchObject({ t: 'error', code: 'NO_CONSENT' });
    expect(await get(d, streamOf(patient.accountId, 'audit'))).toMatchObject({
      t: 'error',
      code: 'FORBIDDEN',
    });

    const read = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await c.request({ t: 'grant', rid: c.rid(), grant: read })).t).toBe('ok');
    expect(await get(d, stream)).toMatchObject({ t: 'head', signed, leaves: leavesOf(docs) });
    await c.close();
    await d.close();
  });
});
