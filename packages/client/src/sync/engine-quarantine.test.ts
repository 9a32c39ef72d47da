import { afterEach, describe, expect, it } from 'vitest';
import { MODEL_VERSION, validateRecord, type RecordKind } from '@hale/model';
import type { KeyEnvelope, ServedDoc } from '@hale/protocol';
import { generateStreamKey } from '@hale/crypto';
import type { DeviceDb } from '../store/device-db';
import { createDeviceMeta } from '../store/device-meta';
import { SYNC_STATE } from './stored-state';
import { SyncError, type RequestFrame } from './connection';
import { createSyncEngine, type SyncEngine } from './engine';
import type { Keyring } from './keyring';
import { BUILD_CONTENT_MODEL, decodeRecords, encodeRecords, type ContentModel } from './record-codec';
import {
  dataOf,
  deviceKey,
  ed,
  flipByte,
  keyringFor,
  patient,
  patientDeps,
  provider,
  providerDeps,
  providerDevice,
  providerRoot,
  record,
  servedRecord,
  signedEnvelope,
} from './codec-fixture.test-util';
import {
  closeOpened,
  openTestDb,
  opened,
  scriptedServer,
  settled,
  stopAndClose,
  until,
} from './scripted-server.test-util';

// The engine's quarantine against a scripted server: a provider device reading a patient's allergy
// stream, restarted over the same store and metadata as an app is after an update.

const STREAM = `${patient.accountId}/allergy`;
const idOf = (n: number) => `01J1000000000000000000${String(n).padStart(4, '0')}`;

/** The allergy `n` as the patient's device writes it, sealed under the stream key of `epoch` (0 by default). */
const allergy = async (
  n: number,
  over: Record<string, unknown> = {},
  write?: { epoch: number; key: Uint8Array },
): Promise<Omit<ServedDoc, 'seq' | 'at'>> => {
  const id = idOf(n);
  // Without `reaction` unless asked for: the field the older build below does not know.
  const data = dataOf('Allergy', id, patient.accountId, { reaction: undefined, ...over });
  for (const [k, v] of Object.entries(data)) if (v === undefined) delete data[k];
  const r = record({ id, data });
  if (!write) return servedRecord(r);
  const [doc] = await encodeRecords({ ...patientDeps, offload: null }, [{ record: r, write }]);
  if (!doc) throw new Error('not sealed');
  return doc;
};

/** Rules of an older build: an allergy's `reaction` did not exist yet (the schemas are closed). */
const olderBuild = (version = 'older-build'): ContentModel & { judged: string[] } => {
  const judged: string[] = [];
  return {
    version,
    judged,
    validateRecord: (kind: RecordKind, data: unknown) => {
      const fields = data as Record<string, unknown>;
      judged.push(String(fields['id']));
      if ('reaction' in fields) return { ok: false, error: { message: 'reaction: unknown property' } };
      return validateRecord(kind, data);
    },
  };
};

/** This build's rules, counting the records judged. */
const thisBuild = (): ContentModel & { judged: string[] } => {
  const judged: string[] = [];
  return {
    version: MODEL_VERSION,
    judged,
    validateRecord: (kind: RecordKind, data: unknown) => {
      judged.push(String((data as Record<string, unknown>)['id']));
      return validateRecord(kind, data);
    },
  };
};

let dbCount = 0;
afterEach(closeOpened);

/**
 * One provider device (store `name`, metadata `raw`): what survives a restart is the store and `raw`.
 * `envelopes` is what the server serves the keyring (mutable).
 */
const device = (
  server: ReturnType<typeof scriptedServer>,
  envelopes: KeyEnvelope[],
  /** Held until it settles: every write of the quarantine list. */
  quarantineWrites?: Promise<void>,
) => {
  const name = `quarantine${++dbCount}`;
  const raw = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      if (key === 'quarantine') await quarantineWrites;
      raw.set(key, structuredClone(value));
    },
  });
  let current: { engine: SyncEngine; db: DeviceDb; keyring: Keyring } | null = null;
  const start = async (
    options: {
      model?: ContentModel;
      maxQuarantine?: number;
      /** The author rules the engine is told it judges by, and whether every author is then unknown. */
      authors?: { rules: string; unknown: boolean };
    } = {},
  ) => {
    if (current) await stop();
    const authors = options.authors;
    const db = await openTestDb(name);
    const keyring = keyringFor(provider, providerRoot, providerDevice, envelopes);
    const engine = createSyncEngine({
      collection: db.records,
      connection: server.connection,
      keyring,
      ed,
      accountId: provider.accountId,
      device: { deviceId: providerDevice.deviceId, secretKey: providerDevice.secretKey },
      lookupDeviceKey: async (account, dev) => {
        const key = authors?.unknown === true ? null : await deviceKey(account, dev);
        return key ? { status: 'found', key } : { status: 'unknown' };
      },
      ...(authors ? { authorRules: () => authors.rules } : {}),
      now: () => Date.now(),
      replicationId: `quarantine-test-${name}`,
      meta,
      ...(options.model ? { contentModel: options.model } : {}),
      ...(options.maxQuarantine ? { maxQuarantine: options.maxQuarantine } : {}),
    });
    current = { engine, db, keyring };
    opened.push(current);
    await engine.start();
    await connect();
    return engine;
  };
  const connect = async (): Promise<void> => {
    const engine = current!.engine;
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
  };
  /** The link drops and comes back (a reconnect retries what is due). */
  const reconnect = async (): Promise<void> => {
    current!.engine.onStatus('offline');
    await connect();
  };
  const stop = async (): Promise<void> => {
    if (!current) return;
    await stopAndClose(current);
    current = null;
  };
  const stored = async (id: string) => (await current!.db.records.findOne(id).exec())?.toJSON() ?? null;
  const entries = () => raw.get('quarantine') as Array<Record<string, unknown>> | undefined;
  return {
    start,
    reconnect,
    stop,
    stored,
    raw,
    entries,
    engine: () => current!.engine,
    keyring: () => current!.keyring,
  };
};

const providerEnvelope = async (epoch = 0, key?: Uint8Array) =>
  signedEnvelope(STREAM, epoch, key ?? (await patientDeps.keyring.keyFor(STREAM, 0))!, provider);

describe('content refused under one build’s record rules', () => {
  it('is judged by the injected rules, this build’s by default', async () => {
    const doc = { ...(await allergy(1, { reaction: 'hives' })), seq: 1, at: '2026-01-01T00:00:00.000Z' };
    const deps = {
      ...providerDeps,
      keyring: keyringFor(provider, providerRoot, providerDevice, [await providerEnvelope()]),
    };
    const [now] = await decodeRecords(deps, [doc]);
    const [older] = await decodeRecords({ ...deps, model: olderBuild() }, [doc]);
    expect(now?.ok).toBe(true);
    expect(older).toMatchObject({ ok: false, reason: 'BAD_CONTENT' });
    expect(BUILD_CONTENT_MODEL.version).toBe(MODEL_VERSION);
  });

  it('is fetched again once after the app runs other rules, applied if they take it, kept under them if not', async () => {
    const server = scriptedServer([STREAM]);
    const newer = server.serve(await allergy(1, { reaction: 'hives' }));
    const invalid = server.serve(await allergy(2, { substance: undefined }));
    const plain = server.serve(await allergy(3));
    const sealed = await allergy(4);
    const tampered = server.serve({ ...sealed, ct: flipByte(sealed.ct, -5, 1) });
    const d = device(server, [await providerEnvelope()]);

    const old = olderBuild();
    let engine = await d.start({ model: old });
    await until(() => engine.quarantine().length === 3, 'three set aside');
    expect(engine.quarantine().map((q) => [q.id, q.reason, q.model])).toEqual([
      [newer.id, 'BAD_CONTENT', 'older-build'],
      [invalid.id, 'BAD_CONTENT', 'older-build'],
      [tampered.id, 'TAMPERED', 'older-build'],
    ]);
    await until(async () => (await d.stored(plain.id)) !== null, 'the plain allergy is stored');
    const messages = engine
      .state()
      .errors.filter((e) => e.code === 'QUARANTINED')
      .map((e) => e.message);
    expect(messages.filter((m) => m.includes('read again after an update'))).toHaveLength(2);

    // The same build again: nothing it refused is fetched or judged again.
    await settled(engine);
    const first = server.pulls.length;
    await d.reconnect();
    await settled(engine);
    engine = await d.start({ model: old });
    await settled(engine);
    expect(server.fetchedAgain(first)).toEqual([]);
    expect(old.judged.filter((id) => id === newer.id)).toHaveLength(1);

    // The app was updated: what it refused under the older rules is fetched again and judged by these.
    const now = thisBuild();
    const beforeUpdate = server.pulls.length;
    engine = await d.start({ model: now });
    await until(async () => (await d.stored(newer.id)) !== null, 'the newer record is applied');
    expect((await d.stored(newer.id))?.data['reaction']).toBe('hives');
    await until(() => engine.quarantine().length === 2, 'the applied one left the quarantine');
    expect(engine.quarantine().map((q) => [q.id, q.reason, q.model])).toEqual([
      [tampered.id, 'TAMPERED', 'older-build'],
      [invalid.id, 'BAD_CONTENT', MODEL_VERSION],
    ]);
    expect(now.judged.filter((id) => id === invalid.id)).toHaveLength(1);
    // Judged again with the same outcome: not reported again.
    expect(engine.state().errors.filter((e) => e.code === 'QUARANTINED')).toEqual([]);
    // Tampering stays for good: never opened again.
    expect(now.judged).not.toContain(tampered.id);

    // One re-fetch, from just before the first record refused under other rules.
    await settled(engine);
    expect(server.fetchedAgain(beforeUpdate)).toEqual([newer.seq - 1]);

    // Kept under this build's rules: not fetched again until they change.
    const afterUpdate = server.pulls.length;
    await d.reconnect();
    await settled(engine);
    engine = await d.start({ model: now });
    await settled(engine);
    expect(server.fetchedAgain(afterUpdate)).toEqual([]);
    expect(now.judged.filter((id) => id === invalid.id)).toHaveLength(1);
  });

  it('an entry kept before the rules were recorded counts as refused under unknown rules: fetched once', async () => {
    const server = scriptedServer([STREAM]);
    const newer = server.serve(await allergy(1, { reaction: 'hives' }));
    server.serve(await allergy(2));
    const d = device(server, [await providerEnvelope()]);
    const old = olderBuild();
    let engine = await d.start({ model: old });
    await until(() => engine.quarantine().length === 1, 'set aside');
    await settled(engine);
    await d.stop();
    // As an older app version stored it.
    const legacy = d.entries()!.map(({ model: _, ...rest }) => rest);
    expect(legacy[0]).not.toHaveProperty('model');
    d.raw.set('quarantine', legacy);
    expect(
      (await createDeviceMeta({ read: async () => legacy, write: async () => undefined }).get(
        'quarantine',
        SYNC_STATE.quarantine,
      )) ?? [],
    ).toHaveLength(1);

    const restarted = server.pulls.length;
    engine = await d.start({ model: old });
    await until(() => engine.quarantine()[0]?.model === 'older-build', 'judged again, under these rules');
    await settled(engine);
    expect(old.judged.filter((id) => id === newer.id)).toHaveLength(2);
    expect(server.fetchedAgain(restarted)).toEqual([newer.seq - 1]);
    await d.reconnect();
    await settled(engine);
    expect(old.judged.filter((id) => id === newer.id)).toHaveLength(2);
  });
});

describe('an item set aside', () => {
  it('is reported as it is listed, before its entry is written', async () => {
    const server = scriptedServer([STREAM]);
    const sealed = await allergy(1);
    const tampered = server.serve({ ...sealed, ct: flipByte(sealed.ct, -5, 1) });
    let release = (): void => undefined;
    const d = device(server, [await providerEnvelope()], new Promise<void>((r) => (release = r)));
    const starting = d.start();
    let started: SyncEngine | undefined;
    await until(() => {
      try {
        started = d.engine();
        return true;
      } catch {
        return false;
      }
    }, 'started');
    const engine = started!;
    await until(() => engine.quarantine().length === 1, 'listed');
    expect(d.entries()).toBeUndefined();
    expect(
      engine
        .state()
        .errors.filter((e) => e.code === 'QUARANTINED')
        .map((e) => e.id),
    ).toEqual([tampered.id]);
    release();
    await starting;
    await until(() => d.entries()?.length === 1, 'written');
  });
});

describe('a quarantine beyond its cap', () => {
  it('drops what can never pass first, reports the drop, and still fetches again the records that may pass', async () => {
    const server = scriptedServer([STREAM]);
    const t1 = await allergy(1);
    const t2 = await allergy(2);
    server.serve({ ...t1, ct: flipByte(t1.ct, -5, 1) });
    server.serve({ ...t2, ct: flipByte(t2.ct, -5, 1) });
    // Sealed under epoch 1, whose envelope has not reached the server yet.
    const key1 = generateStreamKey();
    const later = [];
    for (let n = 3; n <= 6; n++) later.push(server.serve(await allergy(n, {}, { epoch: 1, key: key1 })));
    // Applied in the same pull: the stored position moves past the others, no pull serves them again.
    const readable = server.serve(await allergy(7));
    const envelopes = [await providerEnvelope()];
    const d = device(server, envelopes);
    let engine = await d.start({ maxQuarantine: 3 });
    await until(async () => (await d.stored(readable.id)) !== null, 'the readable one is applied');
    await until(
      () => engine.state().errors.some((e) => e.code === 'QUARANTINE_DROPPED'),
      'the drop is reported',
    );
    await until(() => engine.quarantine().length === 3, 'three kept');
    await settled(engine);
    expect(engine.quarantine().map((q) => [q.id, q.reason])).toEqual(
      later.slice(1).map((doc) => [doc.id, 'NO_KEY']),
    );
    expect(d.raw.get('quarantine-gaps')).toEqual([
      { stream: STREAM, from: later[0]!.seq, to: later[0]!.seq },
    ]);
    expect(engine.state().quarantined).toBe(3);
    expect(engine.state().errors.find((e) => e.code === 'QUARANTINE_DROPPED')?.message).toMatch(
      /^3 quarantine entries were dropped: more than 3 were kept; records that may still be shown/,
    );

    // The app restarts; the envelope arrives.
    await settled(engine);
    await d.stop();
    envelopes.push(await providerEnvelope(1, key1));
    engine = await d.start({ maxQuarantine: 3 });
    for (const doc of later) {
      await until(async () => (await d.stored(doc.id)) !== null, `record ${doc.seq} applied`);
    }
    await until(() => engine.quarantine().length === 0, 'nothing left aside');
    await settled(engine);
    expect(d.raw.get('quarantine-gaps')).toEqual([]);
    // The tampered ones stay unshown.
    expect(await d.stored(t1.id)).toBeNull();
    expect(await d.stored(t2.id)).toBeNull();
  });
});

describe('a fetch again of records set aside that fails', () => {
  it('is listed (QUARANTINE_RETRY_FAILED) until a later one passes, then leaves the issues', async () => {
    const server = scriptedServer([STREAM]);
    // Sealed under epoch 1, whose envelope has not reached the server yet.
    const key1 = generateStreamKey();
    const waiting = server.serve(await allergy(1, {}, { epoch: 1, key: key1 }));
    const readable = server.serve(await allergy(2));
    const envelopes = [await providerEnvelope()];
    // Once armed, fetches from before the head (the retry's: a reconnect's pull starts from the stored
    // position) fail.
    let failing = false;
    const request = server.connection.request.bind(server.connection);
    server.connection.request = async (frame: RequestFrame) => {
      if (failing && frame.t === 'pull' && frame.streams.some((c) => c.since < server.head())) {
        throw new SyncError('UNAVAILABLE', 'the server is busy', true);
      }
      return request(frame);
    };
    const d = device(server, envelopes);
    const engine = await d.start();
    await until(async () => (await d.stored(readable.id)) !== null, 'the readable one is applied');
    await until(() => engine.quarantine().length === 1, 'set aside NO_KEY');

    envelopes.push(await providerEnvelope(1, key1));
    failing = true;
    await d.reconnect();
    const codes = () => engine.state().errors.map((e) => e.code);
    await until(() => codes().includes('QUARANTINE_RETRY_FAILED'), 'the failed retry listed');
    expect(await d.stored(waiting.id)).toBeNull();

    failing = false;
    await d.reconnect();
    await until(async () => (await d.stored(waiting.id)) !== null, 'applied once fetched again');
    await until(() => engine.quarantine().length === 0, 'nothing left aside');
    await settled(engine);
    expect(codes()).not.toContain('QUARANTINE_RETRY_FAILED');
  });
});

describe('records set aside NO_KEY', () => {
  it('are fetched again as the grants change (a key may derive now), not only at the backoff or a reconnect', async () => {
    const server = scriptedServer([STREAM]);
    const key1 = generateStreamKey();
    const waiting = server.serve(await allergy(1, {}, { epoch: 1, key: key1 }));
    const envelopes = [await providerEnvelope()];
    const d = device(server, envelopes);
    const engine = await d.start();
    await until(() => engine.quarantine().length === 1, 'set aside NO_KEY');
    await settled(engine);

    // The key is there to be had now; nothing else happens but the grants changing (the first retry of
    // the backoff is 30 s away, and the link stays up).
    envelopes.push(await providerEnvelope(1, key1));
    d.keyring().invalidateWriteChecks();
    await until(async () => (await d.stored(waiting.id)) !== null, 'applied once fetched again');
    await until(() => engine.quarantine().length === 0, 'nothing left aside');
    // Nor is it still reported as set aside: the warning ends with its entry.
    expect(engine.state().errors.filter((e) => e.code === 'QUARANTINED')).toEqual([]);
  });
});

describe('authors refused under one session’s author rules', () => {
  it('beyond the cap too: a gap of them waits for other author rules, beside content refusals for other record rules', async () => {
    const server = scriptedServer([STREAM]);
    const newer = server.serve(await allergy(1, { reaction: 'hives' }));
    const byUnknown = [];
    for (let n = 2; n <= 4; n++) byUnknown.push(server.serve(await allergy(n)));
    const d = device(server, [await providerEnvelope()]);
    const old = olderBuild();

    let engine = await d.start({ model: old, maxQuarantine: 2, authors: { rules: 'A', unknown: true } });
    await until(() => engine.quarantine().length === 2, 'two kept');
    await settled(engine);
    expect(engine.quarantine().map((q) => [q.id, q.reason, q.authorRules])).toEqual(
      byUnknown.slice(1).map((doc) => [doc.id, 'BAD_AUTHOR', 'A']),
    );
    // The content refusal and the first author refusal were dropped: their gap waits for both rules.
    expect(d.raw.get('quarantine-gaps')).toEqual([
      { stream: STREAM, from: newer.seq, to: byUnknown[0]!.seq, model: 'older-build', authorRules: 'A' },
    ]);
    // The same rules: nothing fetched again.
    const first = server.pulls.length;
    await d.reconnect();
    await settled(engine);
    engine = await d.start({ model: old, maxQuarantine: 2, authors: { rules: 'A', unknown: true } });
    await settled(engine);
    expect(server.fetchedAgain(first)).toEqual([]);

    // Other author rules, under which the author is known: entries and gap fetched again once.
    const changed = server.pulls.length;
    engine = await d.start({ model: old, maxQuarantine: 2, authors: { rules: 'B', unknown: false } });
    for (const doc of byUnknown) {
      await until(async () => (await d.stored(doc.id)) !== null, `record ${doc.seq} applied`);
    }
    await until(() => engine.quarantine().length === 0, 'nothing left aside');
    await settled(engine);
    expect(server.fetchedAgain(changed)).toEqual([newer.seq - 1]);
    // What failed again in the gap waits for other record rules only.
    expect(d.raw.get('quarantine-gaps')).toEqual([
      { stream: STREAM, from: newer.seq, to: newer.seq, model: 'older-build' },
    ]);
    const after = server.pulls.length;
    await d.reconnect();
    await settled(engine);
    engine = await d.start({ model: old, maxQuarantine: 2, authors: { rules: 'C', unknown: false } });
    await settled(engine);
    expect(server.fetchedAgain(after)).toEqual([]);

    // The app is updated: the gap is fetched again and closes.
    engine = await d.start({ model: thisBuild(), maxQuarantine: 2, authors: { rules: 'C', unknown: false } });
    await until(async () => (await d.stored(newer.id)) !== null, 'the newer record is applied');
    await settled(engine);
    expect(d.raw.get('quarantine-gaps')).toEqual([]);
  });
});

describe('a version the device holds, served again', () => {
  it('answers the entry of an altered copy of it the server served meanwhile, without RxDB storing anything', async () => {
    const server = scriptedServer([STREAM]);
    const genuine = await allergy(1);
    server.serve(genuine);
    const d = device(server, [await providerEnvelope()]);
    const engine = await d.start();
    await until(async () => (await d.stored(genuine.id)) !== null, 'the allergy is stored');
    // The server serves an altered copy of that very version in its place: set aside, the copy stays.
    const altered = server.serve({ ...genuine, ct: flipByte(genuine.ct, -5, 1) });
    await d.reconnect();
    await settled(engine);
    expect(engine.quarantine().map((q) => [q.id, q.seq, q.reason])).toEqual([
      [genuine.id, altered.seq, 'TAMPERED'],
    ]);
    // Then the version itself again: nothing to apply, and the entry is answered (RxDB, handed it, would
    // find it equal to its copy and store nothing, so nothing would answer the entry).
    server.serve(genuine);
    await d.reconnect();
    await settled(engine);
    await until(() => engine.quarantine().length === 0, 'the entry answered');
    expect(d.entries()).toEqual([]);
    expect(await d.stored(genuine.id)).toMatchObject({ id: genuine.id, rv: 1 });
  });
});
