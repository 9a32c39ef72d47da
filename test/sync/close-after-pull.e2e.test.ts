// A session closed the moment RxDB stored what a pull page or a live frame brought is not served it again
// at the next start. RxDB writes a batch's position after its documents and skips that write once its
// replication is cancelled, so the engine's stop lets it finish first. Counted on the device's socket:
// pulls of the stream from below the position of what was stored.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession } from '@hale/client/advanced';
import { addDevice, registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('a session closed right after a batch was stored', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  /** A new device of `account` over one store, counting its pulls of `stream` from below `below`. */
  const countingDevice = async (t: TestServer, account: TestAccount, stream: string) => {
    const device = await addDevice(t, account);
    const storage = getRxStorageMemory();
    const dbName = `close-after-pull-${device.keys.deviceId.slice(0, 8)}-${Date.now()}`;
    const watch = { below: 0, pulls: 0 };
    const createWebSocket = interceptedWebSocket({
      sent: (text, send) => {
        const frame = JSON.parse(text) as { t?: string; streams?: Array<{ stream: string; since: number }> };
        if (frame.t === 'pull' && frame.streams?.some((c) => c.stream === stream && c.since < watch.below))
          watch.pulls++;
        send(text);
      },
    });
    const open = async (): Promise<DeviceSession> => {
      const s = await openDevice(t, account, { device, createWebSocket, storage, dbName });
      sessions.push(s);
      return s;
    };
    /** Closes `s` as soon as RxDB stored a document (nothing awaited in between). */
    const closeOnStore = (s: DeviceSession): Promise<void> =>
      new Promise((resolve, reject) => {
        const sub = s.db.records.insert$.subscribe(() => {
          sub.unsubscribe();
          sessions.splice(sessions.indexOf(s), 1);
          s.close().then(resolve, reject);
        });
      });
    const count = (below: number): void => {
      watch.below = below;
      watch.pulls = 0;
    };
    return { open, closeOnStore, count, refetched: () => watch.pulls };
  };

  it('closed as a pull page was stored: the next start pulls from past it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const writer = await openDevice(t, patient);
    sessions.push(writer);
    const record = await writer.records.add('Allergy', input('Allergy', { substance: 'pulled' }));
    await allPushed(writer);
    const device = await countingDevice(t, patient, `${patient.accountId}/allergy`);

    const first = await device.open();
    await device.closeOnStore(first);
    // The stream's only record is at seq 1: a pull from 0 serves it again.
    device.count(1);
    const again = await device.open();
    await waitOnline(again);
    expect(await again.records.get(record.id)).not.toBeNull();
    expect(device.refetched()).toBe(0);
  });

  it('closed as a live frame was stored: the next start pulls from past it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const writer = await openDevice(t, patient);
    sessions.push(writer);
    await writer.records.add('Allergy', input('Allergy', { substance: 'pulled' }));
    await allPushed(writer);
    const device = await countingDevice(t, patient, `${patient.accountId}/allergy`);

    const first = await device.open();
    await waitOnline(first);
    // Subscribed once online: what the writer adds now comes as a live frame.
    const closed = device.closeOnStore(first);
    const live = await writer.records.add('Allergy', input('Allergy', { substance: 'live' }));
    await allPushed(writer);
    await closed;
    // The live record is at seq 2: a pull from below it serves it again.
    device.count(2);
    const again = await device.open();
    await waitOnline(again);
    expect(await again.records.get(live.id)).not.toBeNull();
    expect(device.refetched()).toBe(0);
  });
});
