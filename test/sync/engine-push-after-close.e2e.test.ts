// A push in flight when the app closes: the server stores the versions, its answer reaches the device only
// after close() (here: held back, then handed to the closed session's socket). Nothing is lost, nothing is
// sent twice as a new version after the next start, and nothing throws after close.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession } from '@hale/client/advanced';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { storedRow } from '../support/server-rows';
import { input } from '../support/records';

describe('a push answered after the app closed', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  /** What fails where nobody awaits it (a rejection or an exception after close). */
  const stray: unknown[] = [];
  const note = (error: unknown): void => {
    stray.push(error);
  };
  beforeEach(() => {
    stray.length = 0;
    process.on('unhandledRejection', note);
    process.on('uncaughtException', note);
  });
  afterEach(() => {
    process.off('unhandledRejection', note);
    process.off('uncaughtException', note);
  });

  it('loses nothing, sends nothing again as a new version, and throws nothing after close', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const device = await addDevice(t, patient);
    const storage = getRxStorageMemory();
    const dbName = `push-after-close-${device.keys.deviceId.slice(0, 8)}-${Date.now()}`;

    // The answer to the first push sent while `hold` is set is kept back until `release()`.
    const held = { armed: false, rid: undefined as unknown, deliver: undefined as (() => void) | undefined };
    let onHeld = (): void => undefined;
    const answerHeld = new Promise<void>((resolve) => (onHeld = resolve));
    const createWebSocket = interceptedWebSocket({
      sent: (text, send) => {
        const frame = JSON.parse(text) as { t?: string; rid?: unknown };
        if (held.armed && frame.t === 'push' && held.rid === undefined) held.rid = frame.rid;
        send(text);
      },
      received: (text, deliver) => {
        const frame = JSON.parse(text) as { t?: string; rid?: unknown };
        if (held.rid !== undefined && frame.rid === held.rid && held.deliver === undefined) {
          held.deliver = () => deliver();
          onHeld();
          return;
        }
        deliver();
      },
    });
    const open = async (): Promise<DeviceSession> => {
      const s = await openDevice(t, patient, { device, createWebSocket, storage, dbName });
      sessions.push(s);
      return s;
    };

    const first = await open();
    await waitOnline(first);
    held.armed = true;
    const a = await first.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    const b = await first.records.add(
      'Medication',
      input('Medication', { name: 'Lisinopril', dose: '10 mg' }),
    );
    await answerHeld;
    // The server stored what the push carried (both, or the first alone when they went in two pushes).
    await eventually(() => storedRow(t, a.id) !== undefined, 'the server stored the first record');
    expect(first.sync.state().pendingWrites).toBeGreaterThan(0);

    const errorsBefore = first.sync.state().errors;
    sessions.splice(sessions.indexOf(first), 1);
    await first.close();
    // The answer comes in after close.
    expect(held.deliver).toBeDefined();
    held.deliver?.();
    await new Promise((r) => setTimeout(r, 300));
    // Closing with a push under way is no error of the session's.
    expect(first.sync.state().errors).toEqual(errorsBefore);

    const again = await open();
    await waitOnline(again);
    await allPushed(again, 'everything pushed after the restart');
    for (const r of [a, b]) {
      const local = await again.records.get(r.id);
      expect(local, r.id).not.toBeNull();
      // Not sent again as a new version, nor merged with itself: the version written, as written.
      expect(local?.rv).toBe(1);
      expect(local?.conflict).toBe(false);
      expect(storedRow(t, r.id)?.rev.startsWith('1-')).toBe(true);
    }
    expect((await again.records.get<'Allergy'>(a.id))?.record.substance).toBe('Peanut');
    expect((await again.records.get<'Medication'>(b.id))?.record.dose).toBe('10 mg');
    expect(again.sync.unsent()).toEqual([]);
    expect(again.sync.quarantine()).toEqual([]);
    expect(again.sync.state().errors).toEqual([]);

    // Another device of the account receives each once, as written.
    const other = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(other);
    await waitOnline(other);
    await eventually(async () => (await other.records.get(b.id)) !== null, 'the other device has both');
    expect((await other.records.get(a.id))?.rv).toBe(1);
    expect((await other.records.query('Allergy')).filter((r) => r.record.id === a.id)).toHaveLength(1);
    expect(stray).toEqual([]);
  });
});
