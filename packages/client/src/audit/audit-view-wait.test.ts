// The views without the offline option wait for the connection only so long: a connection that never
// comes back ends them with SyncError NETWORK (retry), not a promise pending for ever.
import { afterEach, describe, expect, it } from 'vitest';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { PullFrame, ServedDoc } from '@hale/protocol';
import { createConnection, SyncError, type Connection, type ConnectionStatus } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry } from './audit-chain';
import { auditLogOpener, memoryMeta } from './audit-log.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const AT = '2026-01-01T00:00:00.000Z';

/** What a promise did within `ms`: its value, its error, or still pending. */
const within = async <T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> =>
  Promise.race([
    p.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/**
 * A patient device whose log holds one server-logged access. `link.up`: requests are answered by a
 * scripted server; down, they go to the app's real connection, started against a network that refuses
 * every socket (it retries for ever, `connecting` ↔ `offline`), which holds them until `ready`.
 */
const setup = async () => {
  const patient = deriveAccountKeys(generateRootSecret());
  const own = generateDeviceKeys();
  const server = generateDeviceKeys();
  const made = await makeAuditEntry({
    patientId: patient.accountId,
    patientWrappingKey: patient.wrapping.publicKey,
    device: { deviceId: server.deviceId, secretKey: server.secretKey },
    ed,
    chain: { seq: 0, hash: null },
    body: {
      kind: 'AccessEvent',
      action: 'pull',
      actorId: deriveAccountKeys(generateRootSecret()).accountId,
      actorDeviceId: generateDeviceKeys().deviceId,
      stream: `${patient.accountId}/allergy`,
      count: 2,
      at: AT,
    },
    now: () => Date.parse(AT),
  });
  const served: ServedDoc[] = [{ ...made.doc, seq: 1, at: AT }];
  const down = createConnection({
    url: 'ws://unreachable',
    createWebSocket: () => {
      throw new Error('no network');
    },
    device: { deviceId: own.deviceId, secretKey: own.secretKey },
    ed,
    onFrame: () => undefined,
    backoff: { initialMs: 5, maxMs: 20 },
  });
  down.start();
  stops.push(() => down.stop());
  const link = { up: false };
  const listeners = new Set<(status: ConnectionStatus) => void>();
  down.onStatusChange((status) => {
    if (!link.up) for (const l of [...listeners]) l(status);
  });
  let pulls = 0;
  const waiting: Array<() => void> = [];
  const connection = {
    status: (): ConnectionStatus => (link.up ? 'ready' : down.status()),
    onStatusChange: (listener: (status: ConnectionStatus) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    request: async (frame: PullFrame) => {
      // Held as the app's connection holds it, and answered by the server once the link is back.
      if (!link.up) await Promise.race([down.request(frame), new Promise<void>((r) => waiting.push(r))]);
      pulls++;
      return {
        t: 'pulled',
        rid: 1,
        docs: served.filter((d) => d.seq > frame.streams[0]!.since),
        streams: [{ stream: frame.streams[0]!.stream, checkpoint: served.length, done: true }],
        denied: [],
      };
    },
  } as unknown as Connection;
  const open = auditLogOpener({
    keys: patient,
    device: own,
    ed,
    now: () => Date.parse(AT),
    connection,
    directory: { authorKey: async () => null } as unknown as DeviceDirectory,
    meta: memoryMeta().meta,
    serverKey: async () => ({ serverId: server.deviceId, publicKey: server.publicKey }),
  });
  return {
    open,
    pulls: () => pulls,
    up: () => {
      link.up = true;
      for (const l of [...listeners]) l('ready');
      for (const resolve of waiting.splice(0)) resolve();
    },
    down: () => {
      link.up = false;
      for (const l of [...listeners]) l(down.status());
    },
  };
};

describe('audit views without the offline option, the connection never coming back', () => {
  it.each(['whoAccessed', 'disclosures', 'entries'] as const)(
    '%s rejects SyncError NETWORK (retry) once its wait is over, instead of pending for ever',
    async (view) => {
      const s = await setup();
      const log = s.open({ viewWaitMs: 150 });
      const started = Date.now();
      const got = await within<unknown>(log[view](), 2000);
      if (got === 'pending' || !('error' in got))
        throw new Error(`expected a refusal, got ${JSON.stringify(got)}`);
      expect(got.error).toBeInstanceOf(SyncError);
      expect(got.error).toMatchObject({ code: 'NETWORK', retry: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(s.pulls()).toBe(0);
    },
  );

  it('verify too; and views queued behind one that waits end by their own time, not one after the other', async () => {
    const s = await setup();
    const log = s.open({ viewWaitMs: 600 });
    const started = Date.now();
    const all = await Promise.all(
      [log.verify(), log.whoAccessed(), log.disclosures(), log.entries()].map((p) =>
        within<unknown>(p, 5000),
      ),
    );
    for (const got of all) expect(got).toMatchObject({ error: { code: 'NETWORK', retry: true } });
    // Each asked at once: none waited past its own limit behind the others (one after the other: 2.4 s).
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('the connection back within the wait: answered as before', async () => {
    const s = await setup();
    const log = s.open({ viewWaitMs: 5000 });
    const view = log.whoAccessed();
    expect(await within(view, 100)).toBe('pending');
    s.up();
    expect(await view).toHaveLength(1);
  });

  it('the connection lost after a view that answered: the next one waits and ends the same way', async () => {
    const s = await setup();
    const log = s.open({ viewWaitMs: 150 });
    s.up();
    expect(await log.whoAccessed()).toHaveLength(1);
    s.down();
    expect(await within(log.whoAccessed(), 2000)).toMatchObject({ error: { code: 'NETWORK', retry: true } });
    // Back: answered again, nothing left waiting from before.
    s.up();
    expect(await log.whoAccessed()).toHaveLength(1);
  });
});
