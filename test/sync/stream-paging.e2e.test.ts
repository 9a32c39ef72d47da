// A provider following thousands of patients (accepted ones are not capped by the strangers' cap) has more
// streams than one `streams` answer can carry: about 210 bytes a stream, so past ~40,000 streams the one
// answer is over MAX_FRAME_BYTES and the device's decoder would refuse it. The device reads the list in
// pages (`createStreamList`), through its real connection to a real server; one listing serves every caller
// at connect.
//
// The patients' grants are written straight into the store (`insertRawGrants`); their streams are empty.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { STREAM_TYPES } from '@hale/model';
import { GRANTABLE_STREAM_TYPES, MAX_STREAMS_PAGE, type StreamsFrame } from '@hale/protocol';
import { createConnection, createStreamList, type WebSocketLike } from '@hale/client/advanced';
import {
  insertRawGrants,
  registerAccount,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed } from '../support/devices';

const everyType = GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'read' as const }));

interface SentFrame {
  t: string;
  cursor?: string;
  limit?: number;
}

/** A provider's device connection (the client's own `createConnection`) whose sent frames are recorded. */
const openConnection = async (t: TestServer, account: TestAccount) => {
  const sent: SentFrame[] = [];
  const createWebSocket = (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    const rawSend = ws.send.bind(ws) as (data: string) => void;
    (ws as unknown as { send: (data: string) => void }).send = (data) => {
      const frame = JSON.parse(data) as SentFrame;
      sent.push(frame);
      rawSend(data);
    };
    return ws as unknown as WebSocketLike;
  };
  const connection = createConnection({
    url: t.wsUrl,
    createWebSocket,
    device: { deviceId: account.device.deviceId, secretKey: account.device.keys.secretKey },
    ed,
    onFrame: () => {},
  });
  connection.start();
  await connection.whenReady();
  const lists = () => sent.filter((f) => f.t === 'listStreams');
  return { connection, lists };
};

/** `count` patients (bare account rows) each granting `grantee` every type; answers their ids. */
const grantingPatients = (t: TestServer, grantee: TestAccount, count: number): string[] => {
  const at = new Date().toISOString();
  const addAccount = t.store.db.prepare(
    `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root, created_at)
     VALUES (?, 'patient', 'idk', 'wrk', '{}', ?)`,
  );
  const ids = Array.from({ length: count }, () => randomBytes(16).toString('base64url'));
  t.store.db.transaction(() => {
    for (const id of ids) addAccount.run(id, at);
  })();
  for (const accountId of ids)
    insertRawGrants(t.store, { accountId }, grantee, 1, { now: Date.now(), scope: everyType });
  return ids;
};

describe('a provider whose streams fill several frames', () => {
  const server = useServer({ realClock: true });

  it('lists every stream in pages', { timeout: 120_000 }, async () => {
    const t = server.t;
    const provider = await registerAccount(t, 'provider');
    const patients = grantingPatients(t, provider, 3300);
    const expected = [
      ...STREAM_TYPES.map((type) => `${provider.accountId}/${type}`),
      ...patients.flatMap((id) => GRANTABLE_STREAM_TYPES.map((type) => `${id}/${type}`)),
    ].sort();
    expect(expected.length).toBeGreaterThan(4 * MAX_STREAMS_PAGE);

    const { connection, lists } = await openConnection(t, provider);
    try {
      const streamList = createStreamList({
        request: (frame) => connection.request<StreamsFrame>(frame),
      });
      // The engine and the keyring both list at connect: one walk serves both.
      const [listed, again] = await Promise.all([streamList.list(), streamList.list()]);
      expect(again).toBe(listed);
      expect(listed.map((s) => s.stream).sort()).toEqual(expected);
      const walk = lists();
      expect(walk).toHaveLength(Math.ceil(expected.length / MAX_STREAMS_PAGE));
      for (const frame of walk) expect(frame.limit).toBe(MAX_STREAMS_PAGE);
      expect(walk[0]?.cursor).toBeUndefined();
      for (const frame of walk.slice(1)) expect(frame.cursor).toBeTruthy();
      const owner = listed.filter((s) => s.access === 'owner').map((s) => s.stream);
      expect(owner.sort()).toEqual(STREAM_TYPES.map((type) => `${provider.accountId}/${type}`).sort());

      // A request without paging fields gets a bounded page.
      const bare = await connection.request<StreamsFrame>({ t: 'listStreams' });
      expect(bare.streams).toHaveLength(MAX_STREAMS_PAGE);
      expect(bare.next).toBeDefined();
    } finally {
      connection.stop();
    }
  });

  it('a patient lists its streams in one request', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    insertRawGrants(t.store, provider, patient, 1, { now: Date.now(), scope: everyType });
    const expected = [
      ...STREAM_TYPES.map((type) => `${patient.accountId}/${type}`),
      ...GRANTABLE_STREAM_TYPES.map((type) => `${provider.accountId}/${type}`),
    ].sort();
    const { connection, lists } = await openConnection(t, patient);
    try {
      const streamList = createStreamList({
        request: (frame) => connection.request<StreamsFrame>(frame),
      });
      expect((await streamList.list()).map((s) => s.stream).sort()).toEqual(expected);
      expect(lists()).toHaveLength(1);
      expect(lists()[0]?.limit).toBe(MAX_STREAMS_PAGE);
    } finally {
      connection.stop();
    }
  });
});
