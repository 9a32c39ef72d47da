// Where a read grant outlasts the write grant that describes a stream, a `StreamAccess` row says when
// reading ends (`readExpiresAt`, READ_EXPIRES_VERSION): in `streams` answers and `accessChanged`, only on
// connections of that version or later (frames are closed objects: an older client would refuse the row).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  READ_EXPIRES_VERSION,
  type AccessChangedFrame,
  type ServerFrame,
  type StreamAccess,
  type StreamsFrame,
} from '@hale/protocol';
import {
  connect,
  makeGrant,
  registerAccount,
  startServer,
  type TestServer,
  type WsClient,
} from './testing/harness';

const HOUR = 3_600_000;
const versionsUpTo = (v: number) => Array.from({ length: v }, (_, i) => i + 1);

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
  it('is sent from READ_EXPIRES_VERSION on, in streams answers and accessChanged, and never below it', async () => {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stream = `${patient.accountId}/lab-result`;
    const now = t.clock.now;
    const readEnd = new Date(now + 5 * HOUR).toISOString();
    const writeEnd = new Date(now + HOUR).toISOString();
    const p = await connect(t, patient.device, { versions: versionsUpTo(READ_EXPIRES_VERSION) });
    clients.push(p);
    const older = await connect(t, provider.device, { versions: versionsUpTo(READ_EXPIRES_VERSION - 1) });
    const newer = await connect(t, provider.device, { versions: versionsUpTo(READ_EXPIRES_VERSION) });
    clients.push(older, newer);
    expect([older.ready.version, newer.ready.version]).toEqual([
      READ_EXPIRES_VERSION - 1,
      READ_EXPIRES_VERSION,
    ]);

    const grant = async (access: 'read' | 'write', expiresAt: number) => {
      const signed = await makeGrant(patient, provider, [{ type: 'lab-result', access }], { now, expiresAt });
      expect(await p.request({ t: 'grant', rid: p.rid(), grant: signed })).toMatchObject({ t: 'ok' });
    };
    const changed = (c: WsClient) =>
      c.waitFor(
        (f: ServerFrame): f is AccessChangedFrame =>
          f.t === 'accessChanged' && f.streams.some((s) => s.stream === stream && s.access === 'write'),
      );
    const olderChange = changed(older);
    const newerChange = changed(newer);
    await grant('read', now + 5 * HOUR);
    await grant('write', now + HOUR);
    const rowOf = (rows: readonly StreamAccess[]) => rows.find((s) => s.stream === stream);

    expect(rowOf((await newerChange).streams)).toMatchObject({
      access: 'write',
      expiresAt: writeEnd,
      readExpiresAt: readEnd,
    });
    const olderRow = rowOf((await olderChange).streams);
    expect(olderRow).toMatchObject({ access: 'write', expiresAt: writeEnd });
    expect(olderRow).not.toHaveProperty('readExpiresAt');

    const listed = async (c: WsClient) =>
      rowOf((await c.request<StreamsFrame>({ t: 'listStreams', rid: c.rid() })).streams);
    expect(await listed(newer)).toMatchObject({
      access: 'write',
      expiresAt: writeEnd,
      readExpiresAt: readEnd,
    });
    const olderListed = await listed(older);
    expect(olderListed).toMatchObject({ access: 'write', expiresAt: writeEnd });
    expect(olderListed).not.toHaveProperty('readExpiresAt');
    // Below STREAMS_PAGING_VERSION too (the one whole list).
    const oldest = await connect(t, provider.device, { versions: [1] });
    clients.push(oldest);
    expect(await listed(oldest)).not.toHaveProperty('readExpiresAt');
  });
});
