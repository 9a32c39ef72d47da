import { describe, expect, it } from 'vitest';
import { filter, firstValueFrom } from 'rxjs';
import { REPLICATION_STATE_BY_COLLECTION } from 'rxdb/plugins/replication';
import type { ChangesFrame, PulledFrame, ServerFrame } from '@hale/protocol';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  eventually,
  openPatientAndProvider,
  waitOnline,
  allPushed,
  grantRead,
  openTwoDevices,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

type Request = DeviceSession['connection']['request'];

/** Holds the device's next push request before it is sent, until `release()`. */
const holdNextPush = (d: DeviceSession) => {
  const conn = d.connection as { request: Request };
  const send = conn.request.bind(conn);
  let release: (() => void) | null = null;
  conn.request = async (frame: Parameters<Request>[0]) => {
    if (frame.t === 'push' && release === null) await new Promise<void>((r) => (release = r));
    return send(frame);
  };
  return { held: (): boolean => release !== null, release: (): void => release!() };
};

/** Hands a changes frame to the engine; resolves once the engine gave its documents to RxDB. */
const applyLive = async (d: DeviceSession, frame: ChangesFrame): Promise<void> => {
  // The engine hands live documents to its replication's pull stream, which RxDB keeps on the state it
  // registers for the collection (RxDB stores them later: here only after the push held in flight).
  const [replication] = REPLICATION_STATE_BY_COLLECTION.get(d.db.records) ?? [];
  const stream$ = replication?.pull?.stream$;
  if (stream$ === undefined) throw new Error("the device's records have no pull stream");
  const handed = firstValueFrom(stream$.pipe(filter((item) => item !== 'RESYNC')));
  d.engine.onFrame(frame);
  await handed;
};

/**
 * Keeps live frames (`changes`, `accessChanged`) from the engine until the test hands them on (the
 * session looks `engine.onFrame` up for every frame), so their order relative to a push is the test's.
 */
const captureLiveFrames = (d: DeviceSession) => {
  const engine = d.engine as { onFrame: (frame: ServerFrame) => void };
  const deliver = engine.onFrame;
  const frames: ServerFrame[] = [];
  engine.onFrame = (frame) => {
    if (frame.t === 'changes' || frame.t === 'accessChanged') frames.push(frame);
    else deliver(frame);
  };
  return {
    frames,
    /** Later frames go straight to the engine again. */
    restore: (): void => {
      engine.onFrame = deliver;
    },
  };
};

// RxDB 17.6's downstream drops a RESYNC queued right behind a live change in the same batch (both wait
// while a push is in flight). The engine must not take a RESYNC it emitted as done.
describe('engine: a resync RxDB drops is asked for again', () => {
  const server = useServer({ realClock: true });

  it('a grant that arrives behind a live change while a push is in flight still brings the new stream', async () => {
    const t = server.t;
    const { provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await waitOnline(d);
    await p.consent.verifyProvider(provider.accountId);
    const lab = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(p);
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'labs');
    await eventually(async () => (await d.records.get(lab.id)) !== null, 'provider follows lab-result');
    await waitOnline(d);

    const push = holdNextPush(d);
    const live = captureLiveFrames(d);
    await d.records.add('Allergy', input('Allergy', { substance: 'provider own note' }));
    await eventually(push.held, 'the provider push is in flight');
    const lab2 = await p.records.add('LabResult', input('LabResult', { testName: 'hba1c' }));
    await allPushed(p);
    const change = () =>
      live.frames.find(
        (f): f is ChangesFrame => f.t === 'changes' && f.docs.some((doc) => doc.id === lab2.id),
      );
    await eventually(() => change() !== undefined, 'the live change reached the provider');
    await grantRead(p, provider.accountId, 'allergy', HOUR, 'allergies');
    await eventually(
      () => live.frames.some((f) => f.t === 'accessChanged'),
      'the grant reached the provider',
    );

    // The live change, then the grant: both wait behind the push.
    live.restore();
    await applyLive(d, change()!);
    for (const frame of live.frames.filter((f) => f.t === 'accessChanged')) d.engine.onFrame(frame);
    expect(d.engine.readable(`${p.account.accountId}/allergy`)).toBe(true);
    expect(d.sync.state().status).toBe('syncing');
    push.release();

    await eventually(async () => (await d.records.get(lab2.id)) !== null, 'the live change is stored');
    await eventually(async () => (await d.records.get(allergy.id)) !== null, "the new stream's history");
    await waitOnline(d);
    // And it follows the new stream live.
    const later = await p.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    await eventually(async () => (await d.records.get(later.id)) !== null, 'live on the new stream');
  });

  it('a reconnect whose resync queues behind a live change while a push is in flight gets online and live', async () => {
    const t = server.t;
    const { provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await waitOnline(d);
    await p.consent.verifyProvider(provider.accountId);
    const first = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    await allPushed(p);
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'labs');
    await eventually(async () => (await d.records.get(first.id)) !== null, 'provider follows lab-result');
    await waitOnline(d);
    const stream = `${p.account.accountId}/lab-result` as ChangesFrame['streams'][number]['stream'];
    const since = (
      t.store.db.prepare('SELECT head FROM stream_heads WHERE stream = ?').get(stream) as { head: number }
    ).head;

    const push = holdNextPush(d);
    await d.records.add('Allergy', input('Allergy', { substance: 'provider own note' }));
    await eventually(push.held, 'the provider push is in flight');
    d.sync.goOffline();
    // A live change the device received just before the connection went: it waits behind the push.
    const second = await p.records.add('LabResult', input('LabResult', { testName: 'hba1c' }));
    await allPushed(p);
    const pulled = await p.connection.request<PulledFrame>({
      t: 'pull',
      streams: [{ stream, since }],
      limit: 500,
      maxBytes: 4_000_000,
    });
    await applyLive(d, {
      t: 'changes',
      docs: pulled.docs,
      streams: [{ stream, checkpoint: pulled.streams[0]!.checkpoint }],
    });

    // Back online: the reconnect's resync waits behind the push as well.
    const engine = d.engine as { onReady: () => Promise<void> };
    const onReady = engine.onReady;
    let ready = false;
    engine.onReady = async () => {
      try {
        await onReady();
      } finally {
        ready = true;
      }
    };
    d.sync.goOnline();
    await eventually(() => ready, 'the device reconnected');
    push.release();

    await eventually(async () => (await d.records.get(second.id)) !== null, 'the live change is stored');
    await waitOnline(d);
    const third = await p.records.add('LabResult', input('LabResult', { testName: 'tsh' }));
    await eventually(async () => (await d.records.get(third.id)) !== null, 'live again after the reconnect');
  });

  it('a reconnect whose stream list could not be fetched still pulls and follows the streams', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, server.sessions);
    await waitOnline(a);
    await waitOnline(b);
    const conn = b.connection as { request: Request };
    const send = conn.request.bind(conn);
    let failNext = true;
    conn.request = async (frame: Parameters<Request>[0]) => {
      if (frame.t === 'listStreams' && failNext) {
        failNext = false;
        throw Object.assign(new Error('INTERNAL: database busy'), { code: 'INTERNAL' });
      }
      return send(frame);
    };
    b.connection.drop();
    await eventually(
      () => !failNext && b.connection.status() === 'ready',
      'reconnected; listing failed once',
    );
    const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(a);
    await eventually(async () => (await b.records.get(rec.id)) !== null, 'b receives the new record');
    await waitOnline(b);
  });
});
