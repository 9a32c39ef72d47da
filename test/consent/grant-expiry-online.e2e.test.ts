// A grant that ends while the patient's devices stay connected. Re-keying used to be decided only on
// connect, after a revocation made on the same device, or when a write of this device was refused for an
// ended grant it knew of. So a device that never learnt of a grant (made on another device of the patient)
// kept sealing new records under the epoch the ended grantee holds until it reconnected, and a grant's
// expiry re-keyed nothing until the next write or connect. Now each patient device re-keys at the soonest
// expiry among the grants it knows (a timer) and reads the server's grant list every few minutes while
// connected (here every 300 ms), so it learns of grants and revocations made on its other devices.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { openDeviceSession, SyncError, type DeviceSession, type WebSocketLike } from '@hale/client/advanced';
import {
  addDevice,
  registerAccount,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { granteeOpens, storedRow } from '../support/server-rows';
import {
  allPushed,
  createWebSocket,
  ed,
  eventually,
  getAccountFrom,
  grantRead,
  interceptedWebSocket,
  sessionAccount,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const GRANT_MS = 4_000;
const REFRESH_MS = 300;

let dbCounter = 0;

/**
 * A device session as `openDevice` opens one, with the server's grant list read every `grantRefreshMs`
 * (the session's default is minutes) and its sockets counted (`sockets()`: one means it never reconnected).
 */
const open = async (
  t: TestServer,
  account: TestAccount,
  options: {
    device?: TestDevice;
    grantRefreshMs?: number;
    createWebSocket?: (url: string) => WebSocketLike;
  } = {},
) => {
  let sockets = 0;
  const make = options.createWebSocket ?? createWebSocket;
  const session = await openDeviceSession({
    account: sessionAccount(account, options.device),
    serverUrl: t.url,
    createWebSocket: (url) => {
      sockets++;
      return make(url);
    },
    storage: getRxStorageMemory(),
    getAccount: getAccountFrom(t),
    ed,
    dbName: `expiry${++dbCounter}`,
    ...(options.grantRefreshMs === undefined ? {} : { grantRefreshMs: options.grantRefreshMs }),
  });
  return { session, sockets: () => sockets };
};

const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

/** Resolves once the wall clock is `ms` past `iso`. */
const pastBy = async (iso: string, ms: number): Promise<void> => {
  const wait = Date.parse(iso) + ms - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
};

/** Writes an allergy on `s` and answers its id and how long it took to reach the server (ms). */
const write = async (s: DeviceSession, substance: string) => {
  const started = Date.now();
  const rec = await s.records.add('Allergy', input('Allergy', { substance }));
  await allPushed(s, `${substance} pushed`);
  return { id: rec.id, ms: Date.now() - started };
};

/** A patient and a provider account, the provider's device online, reading nothing yet. */
const accounts = async (server: ReturnType<typeof useServer>) => {
  const t = server.t;
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const d = await open(t, provider);
  server.sessions.push(d.session);
  await waitOnline(d.session);
  return { t, patient, provider, d: d.session, stream: `${patient.accountId}/allergy` };
};

/** `p` writes an allergy and grants the provider `GRANT_MS` of reading allergies; the provider reads it. */
const grantAndRead = async (p: DeviceSession, d: DeviceSession, providerId: string) => {
  const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
  await allPushed(p, 'history pushed');
  const granted = await grantRead(p, providerId, 'allergy', GRANT_MS, 'one look');
  await eventually(async () => (await d.records.get(before.id)) !== null, 'the provider reads the history');
  return granted;
};

describe('a grant this device made expires while it stays connected', () => {
  const server = useServer({ realClock: true });

  it('re-keys at the expiry, before any write; the next write is pushed under the new epoch', async () => {
    const { t, patient, provider, d, stream } = await accounts(server);
    const p = await open(t, patient);
    server.sessions.push(p.session);
    await waitOnline(p.session);
    const granted = await grantAndRead(p.session, d, provider.accountId);
    await pastBy(granted.grant.expiresAt, 1_500);
    // The expiry's timer alone re-keys, a few round trips a loaded machine may stretch: no write yet.
    await eventually(() => serverEpoch(t, stream) > 0, 're-keyed at the expiry, before any write');
    const rotatedUnasked = serverEpoch(t, stream);
    const after = await write(p.session, 'Penicillin');
    console.log(
      `own grant expired: epoch 1.5 s after expiry with no write ${rotatedUnasked}; write pushed in ${after.ms} ms`,
    );
    expect(rotatedUnasked).toBe(1);
    expect(storedRow(t, after.id)?.epoch).toBe(1);
    expect(granteeOpens(t, provider, after.id)).toBe(false);
    expect(p.sockets()).toBe(1);
  });
});

describe("a grant made on another of the patient's devices ends while this one stays connected", () => {
  const server = useServer({ realClock: true });

  /** Devices A (grants) and B (writes afterwards) of one patient, both online, B's sockets counted. */
  const twoDevices = async () => {
    const opened = await accounts(server);
    const { t, patient } = opened;
    const a = await open(t, patient, { grantRefreshMs: REFRESH_MS });
    const b = await open(t, patient, { device: await addDevice(t, patient), grantRefreshMs: REFRESH_MS });
    server.sessions.push(a.session, b.session);
    await Promise.all([waitOnline(a.session), waitOnline(b.session)]);
    return { ...opened, a, b };
  };

  /** B's write after the end: under an epoch the provider holds no key of; A reads it; B never reconnected. */
  const shutOut = async (s: Awaited<ReturnType<typeof twoDevices>>, reader: DeviceSession, what: string) => {
    const after = await write(s.b.session, 'Penicillin');
    const epoch = storedRow(s.t, after.id)?.epoch;
    console.log(`${what}: B's write pushed in ${after.ms} ms under epoch ${epoch}`);
    expect(epoch).toBeGreaterThan(0);
    expect(granteeOpens(s.t, s.provider, after.id)).toBe(false);
    await eventually(
      async () => (await reader.records.get(after.id)) !== null,
      "the other device reads B's write",
    );
    expect(s.b.sockets()).toBe(1);
  };

  it('expiry, A still online: B writes under an epoch the provider does not hold', async () => {
    const s = await twoDevices();
    const granted = await grantAndRead(s.a.session, s.d, s.provider.accountId);
    await pastBy(granted.grant.expiresAt, 1_500);
    await shutOut(s, s.a.session, 'expired, A online');
  });

  it('expiry, A closed after granting: B learns of the grant and re-keys by itself', async () => {
    const s = await twoDevices();
    const c = await open(s.t, s.patient, { device: await addDevice(s.t, s.patient) });
    server.sessions.push(c.session);
    await waitOnline(c.session);
    const granted = await grantAndRead(s.a.session, s.d, s.provider.accountId);
    await s.a.session.close();
    server.sessions.splice(server.sessions.indexOf(s.a.session), 1);
    await pastBy(granted.grant.expiresAt, 1_500);
    await shutOut(s, c.session, 'expired, A closed');
  });

  it('revocation on A, which re-keys at once: B writes under the new epoch', async () => {
    const s = await twoDevices();
    const granted = await grantAndRead(s.a.session, s.d, s.provider.accountId);
    const revoked = await s.a.session.consent.revoke(granted.grant.grantId);
    expect(revoked.pending).toEqual([]);
    await shutOut(s, s.a.session, 'revoked on A, re-keyed there');
  });

  it('revocation on A, whose re-keying is cut short (A closed): B re-keys by itself', async () => {
    const opened = await accounts(server);
    const { t, patient } = opened;
    // A's socket keeps back every key publish once told to: its re-keying claim never reaches the server.
    let holdEnvelopes = false;
    let claimHeld = (): void => undefined;
    const aSocket = interceptedWebSocket({
      sent: (text, send) => {
        if (holdEnvelopes && (JSON.parse(text) as { t: string }).t === 'putEnvelopes') return claimHeld();
        send(text);
      },
    });
    const a = await open(t, patient, { grantRefreshMs: REFRESH_MS, createWebSocket: aSocket });
    const b = await open(t, patient, { device: await addDevice(t, patient), grantRefreshMs: REFRESH_MS });
    const c = await open(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(a.session, b.session, c.session);
    await Promise.all([waitOnline(a.session), waitOnline(b.session), waitOnline(c.session)]);
    const s = { ...opened, a, b };
    const granted = await grantRead(a.session, s.provider.accountId, 'allergy', 3600_000, 'care');
    await eventually(
      () =>
        (
          t.store.db
            .prepare('SELECT count(*) AS n FROM envelopes WHERE recipient = ?')
            .get(s.provider.accountId) as { n: number }
        ).n > 0,
      "the provider's envelopes stored",
    );
    holdEnvelopes = true;
    const held = new Promise<void>((resolve) => (claimHeld = resolve));
    const revoking = a.session.consent.revoke(granted.grant.grantId);
    // The revocation answered, A's re-keying under way: its claim is what is kept back.
    await held;
    expect((await t.store.grants.get(granted.grant.grantId))?.revokedAt).toBeDefined();
    await a.session.close();
    server.sessions.splice(server.sessions.indexOf(a.session), 1);
    expect((await revoking).pending).toEqual([s.stream]);
    // A minted nothing (B may have re-keyed already: its grant-list reading runs every 300 ms).
    const byA = t.store.db
      .prepare(
        'SELECT sum(epoch = 0) AS grant, sum(epoch > 0) AS rekey FROM envelopes WHERE stream = ? AND created_by = ?',
      )
      .get(s.stream, patient.device.keys.deviceId) as { grant: number; rekey: number };
    expect(byA).toEqual({ grant: 1, rekey: 0 });
    // B learns of the revocation at one of its readings of the grant list, and re-keys by itself.
    await eventually(() => serverEpoch(t, s.stream) > 0, 're-keyed without A');
    await shutOut(s, c.session, 'revoked on A, A closed before re-keying');
  });
});

describe('a grant whose answer is lost', () => {
  const server = useServer({ realClock: true });

  it('rejects NETWORK naming the grant; once online, list() shows whether it stands', async () => {
    const { t, patient, provider } = await accounts(server);
    let lose: 'send-then-drop' | 'drop' | null = null;
    let socket: WebSocketLike | null = null;
    const p = await open(t, patient, {
      createWebSocket: (url) => {
        socket = interceptedWebSocket({
          sent: (text, send) => {
            if (lose !== null && (JSON.parse(text) as { t: string }).t === 'grant') {
              if (lose === 'send-then-drop') send(text);
              lose = null;
              socket?.close(4000, 'dropped by the test');
              return;
            }
            send(text);
          },
        })(url);
        return socket;
      },
    });
    server.sessions.push(p.session);
    await waitOnline(p.session);
    const attempt = async (how: 'send-then-drop' | 'drop') => {
      lose = how;
      const error: unknown = await grantRead(p.session, provider.accountId, 'allergy', 3600_000, how).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SyncError);
      expect(error).toMatchObject({ code: 'NETWORK' });
      const grantId = error instanceof SyncError && 'grantId' in error ? error.grantId : undefined;
      expect(typeof grantId).toBe('string');
      await waitOnline(p.session);
      return (await p.session.consent.list()).find((g) => g.grant.grantId === grantId)?.status;
    };
    expect(await attempt('send-then-drop')).toBe('active');
    expect(await attempt('drop')).toBeUndefined();
  });
});
