import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, PushFrame, StreamAccess } from '@hale/protocol';
import { randomBytes } from '@hale/crypto';
import { createDeviceMeta } from '../store/device-meta';
import {
  dataOf,
  deviceKey,
  ed,
  keyringFor,
  patient,
  provider,
  providerDevice,
  providerRoot,
  record,
  servedRecord,
  signedEnvelope,
} from './codec-fixture.test-util';
import { SyncError, type Connection, type RequestFrame } from './connection';
import { createSyncEngine } from './engine';
import type { PlainRecord } from '../records/plain-record';
import { closeOpened, openTestDb, opened, stopAndClose, until } from './scripted-server.test-util';
import {
  LOCKED,
  idIn,
  readyFrame,
  keyWaitServer,
  keyWaitDevice,
  medication,
  waitsForKey,
  keyComes,
  live,
  localOf,
  storedOf,
  keyWaitMeta,
  rvOf,
  type KeyWaitServer,
  type KeyWaitDevice,
} from './key-wait-server.test-util';

// Review of the key-wait list (engine.ts `keyWaits`, `parkRows`, `sendKeyWaits`): a local version of a
// stream this device holds no write key for is answered to RxDB as sent and sent by the engine later.
// Each case states what should hold; a failing case is a defect (see the review report).

afterEach(closeOpened);
const server = keyWaitServer;
const device = keyWaitDevice;
type Server = KeyWaitServer;
type Device = KeyWaitDevice;
const name = (what: string) => `engine-key-wait-review-${what}-${Math.random().toString(36).slice(2)}`;

/** A medication this device holds as the server's (epoch 0), then edited here while the key is missing. */
const waitingEdit = async (s: Server, d: Device, n: number, instructions = 'Take at night') => {
  const base = s.store(await servedRecord(medication(n, { epoch: 0 })));
  live(d, base);
  await until(async () => (await localOf(d, base.id)) !== null, 'the medication is stored');
  const doc = await d.db.records.findOne(base.id).exec();
  await doc!.incrementalPatch({ rv: 2, data: { ...doc!.toJSON().data, instructions } });
  d.engine.notePending(base.id, 2);
  await until(() => waitsForKey(d.engine, base.id), 'the edit waits for its key');
  return base;
};
/** `mine` written here while the key is missing: it waits on the list. */
const waitingCreation = async (d: Device, mine: PlainRecord) => {
  await d.db.records.insert(mine);
  d.engine.notePending(mine.id, 1);
  await until(() => waitsForKey(d.engine, mine.id), 'the change waits for its key');
};
/** Holds the push that carries record `id` until `fail` ends it (`held`: it came). */
const holdSend = (s: Server, id: string) => {
  let held = false;
  let reject = (_e: Error): void => undefined;
  s.hooks.onPush = (push) => {
    if (!push.rows.some((r) => r.doc.id === id)) return undefined;
    held = true;
    return new Promise((_, no) => (reject = no));
  };
  return { held: () => held, fail: (e: Error) => reject(e) };
};
/** Like `waitingEdit`, a deletion of medication `n` made here while the key is missing. */
const waitingDeletion = async (s: Server, d: Device, n: number) => {
  const base = s.store(await servedRecord(medication(n, { epoch: 0 })));
  live(d, base);
  await until(async () => (await localOf(d, base.id)) !== null, 'the medication is stored');
  const doc = await d.db.records.findOne(base.id).exec();
  await doc!.incrementalModify((r) => ({ ...r, rv: 2, _deleted: true }));
  d.engine.notePending(base.id, 2);
  await until(() => waitsForKey(d.engine, base.id), 'the deletion waits');
  return base;
};
/** Another device's edit of medication `n` (rv 2), stored on the server and received here live. */
const theirEdit = async (s: Server, d: Device, n: number, instructions = 'Take with food') => {
  const id = idIn(LOCKED, n);
  const theirs = s.store(
    await servedRecord(
      medication(n, {
        epoch: 0,
        rv: 2,
        data: { ...dataOf('Medication', id, patient.accountId), instructions },
      }),
    ),
  );
  live(d, theirs);
  await until(
    async () => (await localOf(d, id))?.data['instructions'] === instructions,
    'the other edit is stored here',
  );
  return theirs;
};
const notesOf = (r: { data: Record<string, unknown>; conflictData?: Record<string, unknown> | null }) => {
  const sides = [r.data, ...(r.conflictData ? [r.conflictData] : [])];
  const earlier = r.conflictData?.['_earlierConflicts'];
  if (Array.isArray(earlier)) sides.push(...(earlier as Array<Record<string, unknown>>));
  return sides.map((x) => x['instructions']);
};

describe('key-wait review: stop, revocation', () => {
  it('awaitInSync waits while a version waits and rejects STOPPED once the engine stops', async () => {
    const s = server();
    const d = await device(s, name('stop'), []);
    await until(() => d.engine.state().status === 'online', 'online');
    const mine = medication(1);
    await waitingCreation(d, mine);
    let outcome: unknown = 'pending';
    const waiting = d.engine.awaitInSync().then(
      () => 'resolved',
      (e: unknown) => e,
    );
    void waiting.then((o) => (outcome = o));
    await new Promise((r) => setTimeout(r, 100));
    expect(outcome).toBe('pending');
    await stopAndClose(d);
    await until(() => outcome !== 'pending', 'awaitInSync settles');
    expect(outcome).toBeInstanceOf(SyncError);
    expect((outcome as SyncError).code).toBe('STOPPED');
  });

  it('a revocation keeps the waiting version in unsent with its content; nothing stays pending, also after a restart', async () => {
    const s = server();
    const dbName = name('revoked');
    const d = await device(s, dbName, []);
    await until(() => d.engine.state().status === 'online', 'online');
    const mine = medication(2, {
      data: { ...dataOf('Medication', idIn(LOCKED, 2), patient.accountId), instructions: 'Mine' },
    });
    await waitingCreation(d, mine);
    let rejected: unknown = null;
    void d.engine.awaitInSync().catch((e: unknown) => (rejected = e));

    s.hooks.failure = new SyncError('DEVICE_REVOKED', 'this device was removed', false);
    d.engine.onStatus('fatal');
    await until(() => d.engine.state().unsent === 1, 'the waiting version is kept unsent');
    const kept = d.engine.unsent();
    expect(kept.map((u) => [u.id, u.code, u.data['instructions']])).toEqual([
      [mine.id, 'DEVICE_REVOKED', 'Mine'],
    ]);
    expect(d.engine.state().pendingWrites).toBe(0);
    expect(waitsForKey(d.engine, mine.id)).toBe(false);
    await until(() => rejected !== null, 'awaitInSync rejects');
    expect((rejected as SyncError).code).toBe('DEVICE_REVOKED');
    await until(() => keyWaitMeta(d.raw).length === 0, 'the key-wait list is emptied on disk');

    await stopAndClose(d);
    const again = await device(s, dbName, [], d.raw);
    expect(again.engine.state().pendingWrites).toBe(0);
    expect(again.engine.unsent().map((u) => u.id)).toEqual([mine.id]);
  });

  it('a revocation after a served version replaced the waiting copy keeps only the waiting version as unsent', async () => {
    const s = server();
    const d = await device(s, name('revoked-served'), []);
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingEdit(s, d, 3);
    await theirEdit(s, d, 3);

    s.hooks.failure = new SyncError('DEVICE_REVOKED', 'this device was removed', false);
    d.engine.onStatus('fatal');
    await until(() => d.engine.state().pendingWrites === 0, 'nothing pending once revoked');
    await new Promise((r) => setTimeout(r, 50));
    // The waiting content is kept; the other device's version (on the server, never this device's
    // change) is not listed as an unsent change of this device.
    const kept = d.engine.unsent().filter((u) => u.id === base.id);
    expect(kept.map((u) => [u.code, u.data['instructions']])).toEqual([['DEVICE_REVOKED', 'Take at night']]);
  });
});

describe('key-wait review: edits and deletions of waiting versions', () => {
  it('two edits in a row on a waiting creation, a restart, then the key: the last edit is stored as one creation', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const dbName = name('two-edits');
    const d = await device(s, dbName, arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const first = medication(4);
    await d.db.records.insert(first);
    d.engine.notePending(first.id, 1);
    await until(() => waitsForKey(d.engine, first.id), 'the creation waits');
    for (const [rv, dose] of [
      [2, '10 mg'],
      [3, '30 mg'],
    ] as const) {
      const doc = await d.db.records.findOne(first.id).exec();
      await doc!.incrementalPatch({ rv, data: { ...doc!.toJSON().data, dose } });
      d.engine.notePending(first.id, rv);
      await until(
        () => (keyWaitMeta(d.raw) as Array<{ record: { rv: number } }>).some((w) => w.record.rv === rv),
        `edit ${rv} waits`,
      );
    }
    expect(d.engine.state().pendingWrites).toBe(1);
    await stopAndClose(d);

    const again = await device(s, dbName, arriving, d.raw);
    expect(again.engine.state().pendingWrites).toBe(1);
    await until(() => again.engine.state().status === 'online', 'online after the restart');
    await keyComes(again, arriving);
    await until(() => again.engine.state().pendingWrites === 0, 'the edit is stored');
    const pushed = s.pushes.flatMap((p) => p.rows).filter((r) => r.doc.id === first.id);
    expect(pushed.map((r) => r.assumedRev)).toEqual([null]);
    expect(rvOf(s.docs.get(first.id))).toBe(3);
    const local = await localOf(again, first.id);
    expect(local?.rv).toBe(3);
    expect(local?.data['dose']).toBe('30 mg');
    expect(again.engine.unsent()).toEqual([]);
    await again.engine.awaitInSync();
  });

  it('an edit made on a served version that replaced the waiting one: the waiting version goes to unsent, the edit is stored', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('edit-on-served'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingEdit(s, d, 5);
    const theirs = await theirEdit(s, d, 5);

    const doc = await d.db.records.findOne(base.id).exec();
    await doc!.incrementalPatch({ rv: 3, data: { ...doc!.toJSON().data, dose: '5 mg' } });
    d.engine.notePending(base.id, 3);
    await until(() => d.engine.state().unsent === 1, 'the waiting version goes to unsent');
    const kept = d.engine.unsent();
    expect(kept.map((u) => [u.id, u.code, u.rv, u.data['instructions']])).toEqual([
      [base.id, 'NO_KEY', 2, 'Take at night'],
    ]);
    expect(d.engine.state().pendingWrites).toBe(1);

    await keyComes(d, arriving);
    await until(() => d.engine.state().pendingWrites === 0, 'the edit is stored');
    expect(rvOf(s.docs.get(base.id))).toBe(3);
    const pushed = s.pushes.flatMap((p) => p.rows).filter((r) => r.doc.id === base.id);
    expect(pushed.at(-1)?.assumedRev).toBe(theirs.rev);
    const local = await localOf(d, base.id);
    expect(local?.data['dose']).toBe('5 mg');
    expect(local?.data['instructions']).toBe('Take with food');
    expect(d.engine.unsent()).toHaveLength(1);
  });

  it('a deletion waiting for its key is sent as a deletion once the key comes', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('delete'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingDeletion(s, d, 6);
    expect(d.engine.state().pendingWrites).toBe(1);
    await keyComes(d, arriving);
    await until(() => d.engine.state().pendingWrites === 0, 'the deletion is stored');
    expect(s.docs.get(base.id)?.deleted).toBe(true);
    expect(rvOf(s.docs.get(base.id))).toBe(2);
    expect((await storedOf(d, base.id))?._deleted).toBe(true);
    expect(d.engine.unsent()).toEqual([]);
    await d.engine.awaitInSync();
  });

  it('a deletion waiting for its key, while another device edits the record: merged, the edit kept (undeleted, conflict marked)', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('delete-vs-edit'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingDeletion(s, d, 7);
    await theirEdit(s, d, 7);
    await keyComes(d, arriving);
    await until(() => d.engine.state().pendingWrites === 0, 'the deletion is answered');
    const onServer = s.docs.get(base.id)!;
    expect(onServer.deleted).toBe(false);
    expect(rvOf(onServer)).toBe(3);
    const local = (await storedOf(d, base.id))!;
    expect(local._deleted).toBe(false);
    expect(local.rv).toBe(3);
    expect(local.conflict).toBe(true);
    expect(local.data['instructions']).toBe('Take with food');
  });
  it('a deletion waiting for its key, while another device deletes the record too: answered, nothing sent over it, in sync', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('delete-vs-delete'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingDeletion(s, d, 8);
    const theirs = s.store(
      await servedRecord({
        ...medication(8, {
          epoch: 0,
          rv: 3,
          data: { ...dataOf('Medication', idIn(LOCKED, 8), patient.accountId), instructions: 'Stop' },
        }),
        _deleted: true,
      }),
    );
    expect(theirs.deleted).toBe(true);
    live(d, theirs);
    await keyComes(d, arriving);
    await until(() => d.engine.state().pendingWrites === 0, 'the deletion is answered');
    await d.engine.awaitInSync();
    // Both deleted is no conflict: the server's deletion stands, and no version is sent over it.
    expect(s.docs.get(base.id)).toEqual(theirs);
    const local = (await storedOf(d, base.id))!;
    expect([local._deleted, local.rv, local.data['instructions']]).toEqual([true, 3, 'Stop']);
    expect(keyWaitMeta(d.raw)).toEqual([]);
    expect(d.raw.get('diverged') ?? []).toEqual([]);
    expect(d.engine.unsent()).toEqual([]);
    expect(d.engine.state().errors.filter((e) => e.id === base.id)).toEqual([]);
  });
});

describe('key-wait review: a server version that already is the merge', () => {
  it('an edit waiting for its key meets the same edit made later on another device: nothing sent over it, the served one shown', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('same-edit'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingEdit(s, d, 9, 'Take with food');
    const id = idIn(LOCKED, 9);
    const theirs = s.store(
      await servedRecord(
        medication(9, {
          epoch: 0,
          rv: 3,
          updatedAt: '2099-01-01T00:00:00.000Z',
          data: { ...dataOf('Medication', id, patient.accountId), instructions: 'Take with food' },
        }),
      ),
    );
    const pushesBefore = s.pushes.length;
    // The key comes before this device has pulled the other edit: the server's answer names it.
    await keyComes(d, arriving);
    await until(() => keyWaitMeta(d.raw).length === 0, 'the wait is answered');
    expect(s.pushes.length).toBe(pushesBefore + 1);
    expect(s.docs.get(base.id)).toEqual(theirs);
    live(d, theirs);
    await until(async () => (await storedOf(d, id))?.rv === 3, 'the served version is stored here');
    await d.engine.awaitInSync();
    expect(d.engine.state().pendingWrites).toBe(0);
    expect(d.engine.unsent()).toEqual([]);
    expect(d.raw.get('diverged') ?? []).toEqual([]);
    expect((await storedOf(d, id))?.conflict).toBe(false);
  });
});

describe('key-wait review: the list and RxDB racing', () => {
  it('the key comes as the person edits the waiting creation: one version stored, nothing pending, no conflict', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('race'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const first = medication(15);
    await d.db.records.insert(first);
    d.engine.notePending(first.id, 1);
    await until(() => waitsForKey(d.engine, first.id), 'the creation waits');
    arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
    const doc = await d.db.records.findOne(first.id).exec();
    await Promise.all([
      (async () => {
        d.engine.onFrame({ t: 'accessChanged', streams: [], removed: [] });
      })(),
      doc!
        .incrementalPatch({ rv: 2, data: { ...first.data, dose: '15 mg' } })
        .then(() => d.engine.notePending(first.id, 2)),
    ]);
    await until(
      () => d.engine.state().pendingWrites === 0 && rvOf(s.docs.get(first.id)) === 2,
      'the edit is stored',
    );
    await d.engine.awaitInSync();
    const local = (await localOf(d, first.id))!;
    expect(local.rv).toBe(2);
    expect(local.conflict).toBe(false);
    expect(local.data['dose']).toBe('15 mg');
    expect(d.engine.unsent()).toEqual([]);
    expect(keyWaitMeta(d.raw)).toEqual([]);
  });

  it('the reply to a plain send from the list is lost: sent again, stored once, nothing pending', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('plain-lost'), arriving, new Map(), {
      keyWaitRetry: { baseMs: 100, maxMs: 200 },
    });
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingEdit(s, d, 16);
    let lost = 0;
    s.hooks.onPush = (push, answer) => {
      if (lost > 0 || !push.rows.some((r) => r.doc.id === base.id)) return undefined;
      lost++;
      answer();
      return Promise.reject(new SyncError('NETWORK', 'connection lost', true));
    };
    await keyComes(d, arriving);
    await until(() => d.engine.state().pendingWrites === 0, 'the edit is answered');
    await d.engine.awaitInSync();
    expect(rvOf(s.docs.get(base.id))).toBe(2);
    const local = (await localOf(d, base.id))!;
    expect(local.rv).toBe(2);
    expect(local.conflict).toBe(false);
    expect(local.data['instructions']).toBe('Take at night');
    expect(d.engine.unsent()).toEqual([]);
  });
});

describe('key-wait review: crashes and lost replies', () => {
  it('stopped while the key-wait list is being saved (RxDB never took the row as sent): after the restart it is stored once', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const dbName = name('crash-park');
    let holdKeyWait: Promise<void> | null = null;
    let release = (): void => undefined;
    let saving = false;
    const d = await device(s, dbName, arriving, new Map(), {
      beforeWrite: async (key) => {
        if (key !== 'key-wait' || holdKeyWait === null) return;
        saving = true;
        await holdKeyWait;
      },
    });
    await until(() => d.engine.state().status === 'online', 'online');
    holdKeyWait = new Promise<void>((r) => (release = r));
    const mine = medication(8);
    await d.db.records.insert(mine);
    d.engine.notePending(mine.id, 1);
    await until(() => saving, 'the key-wait list is being saved');
    // The app quits: the list's write lands while the engine stops, before RxDB stored its push position.
    const stopping = stopAndClose(d);
    release();
    await stopping;

    arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
    const again = await device(s, dbName, arriving, d.raw);
    await until(
      () => again.engine.state().pendingWrites === 0 && s.docs.has(mine.id),
      'the change is stored',
    );
    await again.engine.awaitInSync();
    expect(rvOf(s.docs.get(mine.id))).toBe(1);
    expect(keyWaitMeta(again.raw)).toEqual([]);
    expect(again.engine.unsent()).toEqual([]);
    expect(again.engine.state().errors.filter((e) => e.code === 'NO_KEY')).toEqual([]);
  });

  it('stopped while the list sends a waiting version (no reply): after the restart it is stored', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const dbName = name('crash-send');
    const d = await device(s, dbName, arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const mine = medication(9);
    await waitingCreation(d, mine);
    const send = holdSend(s, mine.id);
    await keyComes(d, arriving);
    await until(send.held, 'the list sends the version');
    const stopping = stopAndClose(d);
    await new Promise((r) => setTimeout(r, 50));
    send.fail(new SyncError('STOPPED', 'sync stopped', false));
    await stopping;
    s.hooks.onPush = null;

    const again = await device(s, dbName, arriving, d.raw);
    expect(again.engine.state().pendingWrites).toBe(1);
    await until(
      () => again.engine.state().pendingWrites === 0 && s.docs.has(mine.id),
      'the change is stored',
    );
    await again.engine.awaitInSync();
    expect(rvOf(s.docs.get(mine.id))).toBe(1);
    expect(keyWaitMeta(again.raw)).toEqual([]);
  });

  it('the reply to the merge push is lost: the record shown here ends as the server holds it, both sides kept', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('merge-lost'), arriving, new Map(), {
      keyWaitRetry: { baseMs: 200, maxMs: 400 },
    });
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingEdit(s, d, 10);
    const theirs = await theirEdit(s, d, 10);
    let lost = 0;
    s.hooks.onPush = (push, answer) => {
      // The merge goes on top of the other device's version: stored, then the link drops.
      if (lost > 0 || !push.rows.some((r) => r.doc.id === base.id && r.assumedRev === theirs.rev))
        return undefined;
      lost++;
      answer();
      return Promise.reject(new SyncError('NETWORK', 'connection lost', true));
    };
    await keyComes(d, arriving);
    await until(() => lost === 1, 'the merge is stored and its reply lost');
    await until(() => d.engine.state().pendingWrites === 0, 'the waiting edit is answered');
    await d.engine.awaitInSync();
    // A reconnect pulls what the server holds.
    d.engine.onStatus('offline');
    d.engine.onStatus('ready');
    await d.engine.onReady();
    await d.engine.awaitInSync();
    const local = (await localOf(d, base.id))!;
    const onServer = s.docs.get(base.id)!;
    expect(notesOf(local)).toContain('Take at night');
    expect(notesOf(local)).toContain('Take with food');
    expect(local.rv).toBe(rvOf(onServer));
  });

  it('stopped between the merge push and its local write: after the restart the record shown here is the merge', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const dbName = name('merge-crash');
    const d = await device(s, dbName, arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingEdit(s, d, 11);
    const theirs = await theirEdit(s, d, 11);
    let stored = false;
    let fail = (_e: Error): void => undefined;
    s.hooks.onPush = (push, answer) => {
      if (stored || !push.rows.some((r) => r.doc.id === base.id && r.assumedRev === theirs.rev))
        return undefined;
      stored = true;
      answer();
      return new Promise((_, reject) => (fail = reject));
    };
    await keyComes(d, arriving);
    await until(() => stored, 'the merge is stored');
    const stopping = stopAndClose(d);
    await new Promise((r) => setTimeout(r, 50));
    fail(new SyncError('STOPPED', 'sync stopped', false));
    await stopping;
    s.hooks.onPush = null;

    const again = await device(s, dbName, arriving, d.raw);
    await until(() => again.engine.state().pendingWrites === 0, 'the waiting edit is answered');
    await again.engine.awaitInSync();
    const local = (await localOf(again, base.id))!;
    expect(notesOf(local)).toContain('Take at night');
    expect(notesOf(local)).toContain('Take with food');
    expect(local.rv).toBe(rvOf(s.docs.get(base.id)));
  });
});

describe('key-wait review: revocation while the list sends', () => {
  it.each([0, 200])(
    'revoked while a waiting version is being sent (its request fails %i ms later): kept in unsent, nothing pending after a restart',
    async (lag) => {
      const s = server();
      const arriving: KeyEnvelope[] = [];
      const dbName = name(`revoked-sending-${lag}`);
      const d = await device(s, dbName, arriving);
      await until(() => d.engine.state().status === 'online', 'online');
      const mine = medication(12, {
        data: { ...dataOf('Medication', idIn(LOCKED, 12), patient.accountId), instructions: 'Mine' },
      });
      await waitingCreation(d, mine);
      const send = holdSend(s, mine.id);
      await keyComes(d, arriving);
      await until(send.held, 'the list sends the version');
      // The server refuses the device: the connection fails fatally, its request in flight fails with it.
      s.hooks.failure = new SyncError('DEVICE_REVOKED', 'this device was removed', false);
      d.engine.onStatus('fatal');
      if (lag > 0) await new Promise((r) => setTimeout(r, lag));
      send.fail(new SyncError('NETWORK', 'connection given up', true));
      await until(() => d.engine.state().unsent === 1 && d.engine.state().pendingWrites === 0, 'kept unsent');
      expect(d.engine.unsent().map((u) => [u.id, u.code, u.data['instructions']])).toEqual([
        [mine.id, 'DEVICE_REVOKED', 'Mine'],
      ]);
      await new Promise((r) => setTimeout(r, 100));
      const listed = keyWaitMeta(d.raw);
      await stopAndClose(d);

      // Restarted (offline: a revoked device connects no more).
      const again = await device(s, dbName, arriving, d.raw, { offline: true });
      expect(again.engine.unsent().map((u) => u.id)).toEqual([mine.id]);
      expect(again.engine.state().pendingWrites).toBe(0);
      expect(listed).toEqual([]);
    },
  );
});

describe('key-wait review: bound, restore', () => {
  it('1,200 creations waiting (over the list bound): nothing lost, all stored once the key comes', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('overflow'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const many = Array.from({ length: 1200 }, (_, i) => medication(100 + i));
    await d.db.records.bulkInsert(many);
    for (const r of many) d.engine.notePending(r.id, 1);
    await until(() => keyWaitMeta(d.raw).length === 1000, 'the list is full');
    await new Promise((r) => setTimeout(r, 300));
    expect(keyWaitMeta(d.raw)).toHaveLength(1000);
    expect(d.engine.state().pendingWrites).toBe(1200);
    expect(s.docs.size).toBe(0);

    await keyComes(d, arriving);
    await until(() => d.engine.state().pendingWrites === 0, 'every change is stored');
    await d.engine.awaitInSync();
    expect(many.filter((r) => rvOf(s.docs.get(r.id)) !== 1)).toEqual([]);
    expect(keyWaitMeta(d.raw)).toEqual([]);
    expect(d.engine.unsent()).toEqual([]);
    expect(d.engine.state().errors.filter((e) => e.code === 'NO_KEY')).toEqual([]);
  }, 30_000);

  it('a restore of the server store while an edit waits: the edit reaches the restored server once the key comes', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('restore'), arriving, new Map(), { incarnation: 'inc-A' });
    await until(() => d.engine.state().status === 'online', 'online');
    const base = await waitingEdit(s, d, 13);
    // Restored from a backup older than the medication: the server lost it.
    s.docs.clear();
    d.engine.onStatus('offline');
    d.engine.onStatus('ready');
    await d.engine.onReady(readyFrame('inc-B'));
    await until(() => d.engine.state().status === 'online', 'online after the restore');
    expect(d.engine.state().pendingWrites).toBe(1);
    await keyComes(d, arriving);
    await until(() => d.engine.state().pendingWrites === 0 && s.docs.has(base.id), 'the edit is stored');
    await d.engine.awaitInSync();
    expect(rvOf(s.docs.get(base.id))).toBe(2);
    expect(d.engine.unsent()).toEqual([]);
    await until(
      () => (d.raw.get('incarnation') as { recorded?: string } | undefined)?.recorded === 'inc-B',
      'the new incarnation is recorded',
    );
  });
});

describe('key-wait review: a provider whose write grant narrows', () => {
  it('the write grant narrows to read while a change waits for its key: it goes to unsent NOT_WRITABLE with its content', async () => {
    const STREAM = `${patient.accountId}/medication`;
    let grant: 'write' | 'read' = 'write';
    const listed = (): StreamAccess =>
      ({
        stream: STREAM,
        patientId: patient.accountId,
        type: 'medication',
        access: grant,
        head: 0,
        epoch: 0,
      }) as StreamAccess;
    const pushes: PushFrame[] = [];
    const connection = {
      // Never `ready`: no signed heads are exchanged.
      status: (): string => 'connecting',
      version: (): number => 1,
      async request(frame: RequestFrame): Promise<unknown> {
        if (frame.t === 'listStreams') return { t: 'streams', rid: 1, streams: [listed()] };
        if (frame.t === 'subscribe') return { t: 'ok', rid: 1 };
        if (frame.t === 'getEnvelopes') return { t: 'envelopes', rid: 1, envelopes: [] };
        if (frame.t === 'push') {
          pushes.push(frame as PushFrame);
          throw new Error('no push expected');
        }
        if (frame.t !== 'pull') throw new Error(`unexpected ${frame.t}`);
        return {
          t: 'pulled',
          rid: 1,
          docs: [],
          streams: frame.streams.map(({ stream, since }) => ({ stream, checkpoint: since, done: true })),
          denied: [],
        };
      },
    } as unknown as Connection;
    const dbName = name('narrow');
    const db = await openTestDb(dbName);
    const raw = new Map<string, unknown>();
    const engine = createSyncEngine({
      collection: db.records,
      connection,
      keyring: keyringFor(provider, providerRoot, providerDevice, []),
      ed,
      accountId: provider.accountId,
      device: { deviceId: providerDevice.deviceId, secretKey: providerDevice.secretKey },
      lookupDeviceKey: async (account, dev) => {
        const key = await deviceKey(account, dev);
        return key ? { status: 'found', key } : { status: 'unknown' };
      },
      now: () => Date.now(),
      replicationId: dbName,
      meta: createDeviceMeta({
        read: async (key) => structuredClone(raw.get(key)),
        write: async (key, value) => {
          raw.set(key, structuredClone(value));
        },
      }),
    });
    opened.push({ engine, db });
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
    expect(engine.writable(STREAM)).toBe(true);

    const id = idIn(LOCKED, 14);
    const mine = record({
      id,
      stream: STREAM,
      kind: 'Medication',
      author: providerDevice.deviceId,
      by: provider.accountId,
      data: { ...dataOf('Medication', id, patient.accountId), instructions: 'Prescribed here' },
    });
    await db.records.insert(mine);
    engine.notePending(id, 1);
    await until(() => waitsForKey(engine, id), 'the change waits for its key');

    grant = 'read';
    engine.onFrame({ t: 'accessChanged', streams: [listed()], removed: [] });
    await until(() => !engine.writable(STREAM), 'read only');
    await until(() => engine.state().unsent === 1, 'the waiting change goes to unsent');
    expect(engine.unsent().map((u) => [u.id, u.code, u.data['instructions']])).toEqual([
      [id, 'NOT_WRITABLE', 'Prescribed here'],
    ]);
    expect(engine.state().pendingWrites).toBe(0);
    expect(waitsForKey(engine, id)).toBe(false);
    await until(() => keyWaitMeta(raw).length === 0, 'the list is emptied');
    await engine.awaitInSync();
    expect(pushes).toEqual([]);
  });
});
