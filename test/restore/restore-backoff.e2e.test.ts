// A broken or hostile server that announces a new store incarnation (`ready.incarnation`) at every
// connection: the first announcement is taken as the restore it claims to be (every local version sent
// again, every stream pulled from 0, at once), but the ones that follow within hours are not — each would
// cost the whole account's traffic again. They are reported for the person to take to whoever runs the
// server, and acted on once the backoff (on the device's own clock, injected here) has passed; what the
// device counted survives a restart. The server is real; only the `ready` frames it sends are rewritten,
// at the platform's WebSocket of a session opened as the app opens it.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import type { HaleSession } from '@hale/client';
import { useServer } from '../support/fixture';
import {
  allPushed,
  createdDevice,
  input,
  joinedDevice,
  online,
  reports,
  restarted,
  tappedPlatform,
  until,
  useHaleSessions,
  when,
  whenReported,
  type FrameTap,
} from './restore-parties';

/** The first wait between catch-ups (RESYNC_BACKOFF_BASE_MS, sync/reset.ts): 15 minutes. */
const RESYNC_BACKOFF_BASE_MS = 15 * 60_000;

/**
 * A tap that replaces the incarnation of every `ready` with `forged.incarnation` (when set), and counts
 * the rows of the pushes the device sends and the documents pulls bring it.
 */
const hostileServer = () => {
  const counts = { pushedRows: 0, pulledDocs: 0 };
  const forged: { incarnation: string | undefined } = { incarnation: undefined };
  const tap: FrameTap = {
    sent: (text, send) => {
      const frame = JSON.parse(text) as { t: string; rows?: unknown[] };
      if (frame.t === 'push') counts.pushedRows += frame.rows?.length ?? 0;
      send(text);
    },
    received: (text, deliver) => {
      const frame = JSON.parse(text) as { t: string; docs?: unknown[]; incarnation?: string };
      if (frame.t === 'pulled') counts.pulledDocs += frame.docs?.length ?? 0;
      if (frame.t === 'ready' && forged.incarnation !== undefined) {
        deliver(JSON.stringify({ ...frame, incarnation: forged.incarnation }));
      } else deliver();
    },
  };
  return { counts, forged, tap };
};

let n = 0;
const newIncarnation = () => `forged-incarnation-${(++n).toString().padStart(4, '0')}`;
const codes = (s: HaleSession, code: string) => s.sync.state.get().errors.filter((e) => e.code === code);

/** Reconnects `s` and waits until it is caught up on the new connection. */
const reconnect = async (s: HaleSession) => {
  s.sync.goOffline();
  await when(s.sync.state, (x) => x.status === 'stopped', 'stopped');
  s.sync.goOnline();
  await online(s);
  await s.sync.awaitInSync();
};

describe('a server that announces a new incarnation at every connection', () => {
  const server = useServer();
  const sessions = useHaleSessions();

  it('gets one full catch-up at once, then none until the backoff has passed, also across a restart', async () => {
    const t = server.t;
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const hostile = hostileServer();
    let offset = 0;
    const now = () => Date.now() + offset;
    // a's device: its store and vault kept across its restart, its clock `now`.
    const aDevice = tappedPlatform({ storage }, hostile.tap);
    const created = await createdDevice(t.url, sessions, { device: aDevice, knobs: { now } });
    let a = created.session;
    // Written on another device of the account, so that a's pulls bring them and its checkpoint moves on:
    // a reconnect then pulls nothing, and a catch-up pulls them all again (and sends them again: they
    // are the account's own).
    const { session: b } = await joinedDevice(t.url, sessions, created.loginName);
    const records = 6;
    for (let i = 0; i < records; i++) {
      await b.records.add('Allergy', input('Allergy', { substance: `held-${i}` }));
    }
    await allPushed(b);
    await when(a.records.list('Allergy'), (p) => p.total === records, 'a has them');
    // Online, its first `ready` taken: the real incarnation adopted (sync/reset.ts `noteIncarnation`).
    await online(a);
    await a.sync.awaitInSync();
    let before = { ...hostile.counts };
    await reconnect(a);
    expect(hostile.counts.pulledDocs).toBe(before.pulledDocs);

    // The first announcement of a restore: caught up with at once, as a genuine restore must be.
    // RESTORE_SYNCED is reported once the announced incarnation is recorded (sync/reset.ts).
    const first = newIncarnation();
    hostile.forged.incarnation = first;
    before = { ...hostile.counts };
    await reconnect(a);
    await whenReported(a, 'RESTORE_SYNCED', 'the first restore caught up with', 30_000);
    expect(hostile.counts.pushedRows - before.pushedRows).toBeGreaterThanOrEqual(records);
    expect(hostile.counts.pulledDocs - before.pulledDocs).toBeGreaterThanOrEqual(records);
    expect(codes(a, 'SERVER_RESTORED')).toHaveLength(1);
    expect(codes(a, 'RESTORE_SYNCED')).toHaveLength(1);
    expect(codes(a, 'SERVER_RESTORES_REPEATED')).toEqual([]);

    // A new incarnation at every connection from now on: nothing is sent again, nothing pulled from 0.
    before = { ...hostile.counts };
    for (let i = 0; i < 3; i++) {
      hostile.forged.incarnation = newIncarnation();
      await reconnect(a);
    }
    expect(hostile.counts).toEqual(before);
    // None recorded: `first` stays the incarnation a caught up with.
    expect(reports(a, 'RESTORE_SYNCED')).toHaveLength(1);
    expect(codes(a, 'SERVER_RESTORED')).toHaveLength(1);
    expect(codes(a, 'RESTORE_SYNCED')).toHaveLength(1);
    const [repeated] = codes(a, 'SERVER_RESTORES_REPEATED');
    expect(repeated?.message).toMatch(
      /^The server reported being restored from a backup 2 times in 1 hour\. .*report it to whoever runs it\.$/,
    );
    // Sync itself goes on: a record written now reaches the server.
    await a.records.add('Allergy', input('Allergy', { substance: 'written while backed off' }));
    await allPushed(a);

    // What the device counted is kept across a restart.
    await a.close();
    a = await restarted(t.url, sessions, aDevice, { now });
    hostile.forged.incarnation = newIncarnation();
    await until(() => a.sync.state.get().status === 'online', 'online after the restart', 30_000);
    await a.sync.awaitInSync();
    before = { ...hostile.counts };
    await reconnect(a);
    expect(hostile.counts.pushedRows - before.pushedRows).toBe(0);
    expect(hostile.counts.pulledDocs - before.pulledDocs).toBe(0);
    expect(codes(a, 'SERVER_RESTORES_REPEATED')).toHaveLength(1);
    expect(codes(a, 'SERVER_RESTORED')).toEqual([]);
    // Still `first` recorded: nothing caught up with since the restart.
    expect(reports(a, 'RESTORE_SYNCED')).toEqual([]);

    // Once the backoff has passed, the next announcement is caught up with again...
    offset += RESYNC_BACKOFF_BASE_MS;
    const later = newIncarnation();
    hostile.forged.incarnation = later;
    before = { ...hostile.counts };
    await reconnect(a);
    await whenReported(a, 'RESTORE_SYNCED', 'the later restore caught up with', 30_000);
    expect(hostile.counts.pushedRows - before.pushedRows).toBeGreaterThanOrEqual(records + 1);
    expect(codes(a, 'RESTORE_SYNCED')).toHaveLength(1);

    // ... and the one after it waits twice as long: not caught up with after one base period.
    offset += RESYNC_BACKOFF_BASE_MS;
    hostile.forged.incarnation = newIncarnation();
    before = { ...hostile.counts };
    await reconnect(a);
    expect(hostile.counts).toEqual(before);
    // `later` stays the incarnation recorded.
    expect(reports(a, 'RESTORE_SYNCED')).toHaveLength(1);
    expect(codes(a, 'SERVER_RESTORES_REPEATED').at(-1)?.message).toMatch(/restored from a backup 3 times/);
  }, 180_000);
});
