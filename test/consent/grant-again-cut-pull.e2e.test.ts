import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  grantRead,
  interceptedWebSocket,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

// A stream granted again after a purge is pulled from 0 (the TSDoc of @hale/client/advanced: "new grants → whole
// history"). RxDB's stored checkpoint still holds the stream's position from before the purge until it
// stores one of that pull from 0, and a failed pull call is retried, as a session opened again starts,
// from what RxDB stored: the engine keeps the stream's restart mark until RxDB hands back a checkpoint
// of the pull from 0 (its token, engine.ts `restartTokens`), so neither a link dropped during the first
// pull of the stream nor the app closed then costs the history before that position.

const COUNT = 5;
const HOUR = 3_600_000;

describe('a grant given again after a purge, its first pull cut', () => {
  const server = useServer({ realClock: true });

  /**
   * The provider held the patient's allergies, the patient revoked (purged on the provider) and grants
   * again; the first `pulled` frame carrying documents after that is lost, and `cut` runs then.
   */
  const grantedAgainCut = async (cut: (socket: WebSocketLike | undefined) => void) => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    let armed = false;
    let cuts = 0;
    let socket: WebSocketLike | undefined;
    const intercepted = interceptedWebSocket({
      received: (text, deliver) => {
        const frame = JSON.parse(text) as { t: string; docs?: unknown[] };
        if (armed && frame.t === 'pulled' && (frame.docs?.length ?? 0) > 0) {
          armed = false;
          cuts++;
          cut(socket);
          return;
        }
        deliver();
      },
    });
    const storage = getRxStorageMemory();
    const dbName = `grant-again-cut-${Math.random().toString(36).slice(2)}`;
    const p = await openDevice(t, patient);
    const d = await openDevice(t, provider, {
      storage,
      dbName,
      createWebSocket: (url) => (socket = intercepted(url)),
    });
    server.sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);

    const ids: string[] = [];
    for (let i = 0; i < COUNT; i++) ids.push((await p.records.add('Allergy', input('Allergy'))).id);
    await allPushed(p);
    const held = async (device: DeviceSession): Promise<number> => {
      let n = 0;
      for (const id of ids) if ((await device.records.get(id)) !== null) n++;
      return n;
    };

    await grantRead(p, provider.accountId, 'allergy', HOUR, 'first');
    await eventually(async () => (await held(d)) === COUNT, 'the provider has the allergies');

    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    await eventually(async () => (await held(d)) === 0, 'purged after the revocation');

    armed = true;
    await grantRead(p, provider.accountId, 'allergy', HOUR, 'second');
    await eventually(() => cuts === 1, 'the first pull of the history is cut');
    const reopen = () => openDevice(t, provider, { storage, dbName });
    return { d, held, reopen };
  };

  it('brings the whole history after the link comes back', { timeout: 60_000 }, async () => {
    const { d, held } = await grantedAgainCut((socket) => socket?.close());
    await waitOnline(d);
    await eventually(async () => (await held(d)) === COUNT, 'the whole history after the reconnect', 10_000);
    expect(await held(d)).toBe(COUNT);
  });

  it('brings the whole history to the session opened after the app closed', { timeout: 60_000 }, async () => {
    const { d, held, reopen } = await grantedAgainCut(() => undefined);
    await d.close();
    const again = await reopen();
    server.sessions.push(again);
    await waitOnline(again);
    await eventually(async () => (await held(again)) === COUNT, 'the whole history after the reopen', 10_000);
    expect(await held(again)).toBe(COUNT);
  });
});
