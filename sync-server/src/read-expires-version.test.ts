// Where a read grant outlasts the write grant that describes a stream, a `StreamAccess` row says when
// reading ends (`readExpiresAt`), in `streams` answers and `accessChanged`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessChangedFrame, ServerFrame, StreamAccess, StreamsFrame } from '@hale/protocol';
import {
  connect,
  makeGrant,
  registerAccount,
  startServer,
  type TestServer,
  type WsClient,
} from './testing/harness';

const HOUR = 3_600_000;

let t: TestServer;
const clients: WsClient[] = [];
beforeEach(async () => {
  t = await startServer();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await t.stop();
});

describe('readExpiresAt on StreamAccess rows', () => {
  it('is sent in streams answers and accessChanged', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stream = `${patient.accountId}/lab-result`;
    const now = t.clock.now;
    const readEnd = new Date(now + 5 * HOUR).toISOString();
    const writeEnd = new Date(now + HOUR).toISOString();
    const p = await connect(t, patient.device);
    const d = await connect(t, provider.device);
    clients.push(p, d);

    const grant = async (access: 'read' | 'write', expiresAt: number) => {
      const signed = await makeGrant(patient, provider, [{ type: 'lab-result', access }], { now, expiresAt });
      expect(await p.request({ t: 'grant', rid: p.rid(), grant: signed })).toMatchObject({ t: 'ok' });
    };
    const change = d.waitFor(
      (f: ServerFrame): f is AccessChangedFrame =>
        f.t === 'accessChanged' && f.streams.some((s) => s.stream === stream && s.access === 'write'),
    );
    await grant('read', now + 5 * HOUR);
    await grant('write', now + HOUR);
    const rowOf = (rows: readonly StreamAccess[]) => rows.find((s) => s.stream === stream);

    const row = { access: 'write', expiresAt: writeEnd, readExpiresAt: readEnd };
    expect(rowOf((await change).streams)).toMatchObject(row);
    const listed = await d.request<StreamsFrame>({ t: 'listStreams', rid: d.rid() });
    expect(rowOf(listed.streams)).toMatchObject(row);
  });
});
