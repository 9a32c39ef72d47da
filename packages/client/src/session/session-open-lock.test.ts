// lock(account) while openDeviceSession is still opening, held at each point where the open waits: while
// an Ed25519 implementation is chosen, and at every storage call the open makes. The open must answer
// LOCKED, and must not have sealed anything under the zeroes lock() leaves in the account's key bytes: once
// unlocked (a fresh account object with the real keys), the same database opens and holds its records.
import { describe, expect, it, vi } from 'vitest';
import type { RxStorage, RxStorageInstance } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import type * as HaleCrypto from '@hale/crypto';
import { isAccountError } from '../core/account-error';
import { lock, type UnlockedAccount } from '../account/account';
import { recordInput } from '../records/records.test-util';
import { openDeviceSession, type DeviceSession } from './session';

/** A held point of the open: `reached` once the open waits there, and it goes on after `release()`. */
interface Hold {
  readonly reached: Promise<void>;
  readonly release: () => void;
  readonly wait: () => Promise<void>;
}

const createHold = (): Hold => {
  let reach = (): void => undefined;
  let release = (): void => undefined;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    reached,
    release,
    wait: () => {
      reach();
      return released;
    },
  };
};

// While set, chooseEd25519 waits for it before choosing.
const edChoice = vi.hoisted(() => ({ hold: null as { wait: () => Promise<void> } | null }));

vi.mock('@hale/crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof HaleCrypto>();
  return {
    ...crypto,
    chooseEd25519: async () => {
      const hold = edChoice.hold;
      edChoice.hold = null;
      await hold?.wait();
      return crypto.chooseEd25519();
    },
  };
});

// The RxStorageInstance methods that answer with a promise (changeStream is synchronous; close and
// remove are not part of an open that goes well).
const ASYNC_METHODS = new Set([
  'bulkWrite',
  'findDocumentsById',
  'query',
  'count',
  'getAttachmentData',
  'getChangedDocumentsSince',
  'cleanup',
]);

/**
 * Memory storage that numbers the calls made through it (instances created, and their async methods)
 * since `arm`, and holds call number `at` until released.
 */
const heldStorage = () => {
  const inner = getRxStorageMemory();
  let calls = 0;
  let holdAt = -1;
  let hold: Hold | null = null;
  const before = async (): Promise<void> => {
    const n = calls++;
    if (n === holdAt && hold) await hold.wait();
  };
  const instanceOf = <I extends object>(instance: I): I =>
    new Proxy(instance, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (typeof prop === 'string' && ASYNC_METHODS.has(prop)) {
          return async (...args: unknown[]) => {
            await before();
            return method.apply(target, args);
          };
        }
        return method.bind(target);
      },
    });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const storage: RxStorage<any, any> = {
    ...inner,
    createStorageInstance: async (params) => {
      await before();
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const instance: RxStorageInstance<any, any, any> = await inner.createStorageInstance(params);
      return instanceOf(instance);
    },
  };
  return {
    storage,
    /** Counts from 0 again and holds call `at` (none with -1). */
    arm(at: number): Hold {
      calls = 0;
      holdAt = at;
      hold = createHold();
      return hold;
    },
    calls: () => calls,
  };
};

/** One account, as a function giving a fresh unlocked object of it (what unlock() returns) each call. */
const anAccount = () => {
  const root = generateRootSecret();
  const keys = deriveAccountKeys(root);
  const device = generateDeviceKeys();
  return (): UnlockedAccount => ({
    accountId: keys.accountId,
    role: 'patient',
    root: root.slice(),
    keys: {
      ...keys,
      identity: { ...keys.identity, secretKey: keys.identity.secretKey.slice() },
      wrapping: { ...keys.wrapping, secretKey: keys.wrapping.secretKey.slice() },
      localKey: keys.localKey.slice(),
    },
    device: { ...device, secretKey: device.secretKey.slice() },
    deviceName: 'test',
  });
};

const outcomeOf = (e: unknown): string =>
  isAccountError(e)
    ? e.code
    : `${e instanceof Error ? e.name : 'thrown'} ${String((e as { code?: unknown }).code)}`;

let dbCounter = 0;

/** A device: one account, one database name, one storage. */
const aDevice = () => {
  const unlocked = anAccount();
  const held = heldStorage();
  const dbName = `lock-open-${++dbCounter}`;
  const open = (account: UnlockedAccount): Promise<DeviceSession> =>
    openDeviceSession({
      account,
      serverUrl: 'http://127.0.0.1:1',
      createWebSocket: () => {
        throw new Error('offline test: no socket');
      },
      storage: held.storage,
      getAccount: () => Promise.reject(new Error('offline test: no server')),
      offline: true,
      dbName,
    });
  /** Opened with the real keys: the ids of the records it holds, or why it did not open. */
  const reopen = async (): Promise<string[] | string> => {
    held.arm(-1);
    try {
      const session = await open(unlocked());
      try {
        const all = await session.db.records.find().exec();
        return all.map((d) => d.id).sort();
      } finally {
        await session.close();
      }
    } catch (e) {
      return outcomeOf(e);
    }
  };
  return { unlocked, held, open, reopen };
};

/** An existing database: opened once, one record written, closed. Returns the record's id. */
const withRecord = async (device: ReturnType<typeof aDevice>): Promise<string> => {
  device.held.arm(-1);
  const session = await device.open(device.unlocked());
  const { id } = await session.records.add('Allergy', recordInput('Allergy'));
  await session.close();
  return id;
};

/** How many storage calls an open makes before it resolves, counted on a device prepared by `prepare`. */
const storageCallsOfAnOpen = async (prepare: (device: ReturnType<typeof aDevice>) => Promise<unknown>) => {
  const device = aDevice();
  await prepare(device);
  device.held.arm(-1);
  const session = await device.open(device.unlocked());
  const calls = device.held.calls();
  await session.close();
  return calls;
};

type Point = 'chooseEd25519' | number;

/**
 * Opens `device`'s database and locks the account once the open waits at `point`. Returns how that open
 * ended ('opened' if it gave a session, closed at once), or 'not reached' if it never waited there.
 */
const lockAt = async (device: ReturnType<typeof aDevice>, point: Point): Promise<string> => {
  const account = device.unlocked();
  const hold = createHold();
  if (point === 'chooseEd25519') {
    device.held.arm(-1);
    edChoice.hold = hold;
  } else {
    edChoice.hold = null;
    const armed = device.held.arm(point);
    void armed.reached.then(() => hold.wait()).then(armed.release);
  }
  const opening = device.open(account).then(
    async (session) => {
      await session.close();
      return 'opened';
    },
    (e: unknown) => outcomeOf(e),
  );
  const first = await Promise.race([hold.reached.then(() => null), opening]);
  if (first !== null) {
    hold.release();
    return `not reached (${first})`;
  }
  lock(account);
  hold.release();
  return opening;
};

describe('lock(account) while openDeviceSession is opening', () => {
  it('a new database: LOCKED at every point, and it opens once unlocked', async () => {
    const calls = await storageCallsOfAnOpen(async () => undefined);
    expect(calls).toBeGreaterThan(0);
    const points: Point[] = ['chooseEd25519', ...Array.from({ length: calls }, (_, n) => n)];
    const seen: string[] = [];
    for (const point of points) {
      const device = aDevice();
      const first = await lockAt(device, point);
      const after = await device.reopen();
      seen.push(`${point}: ${first}; unlocked: ${Array.isArray(after) ? 'opened' : after}`);
    }
    expect(seen).toEqual(points.map((point) => `${point}: LOCKED; unlocked: opened`));
  });

  it('an existing database: LOCKED at every point, and once unlocked it opens with its records', async () => {
    const calls = await storageCallsOfAnOpen(withRecord);
    expect(calls).toBeGreaterThan(0);
    const points: Point[] = ['chooseEd25519', ...Array.from({ length: calls }, (_, n) => n)];
    const seen: string[] = [];
    for (const point of points) {
      const device = aDevice();
      const id = await withRecord(device);
      const first = await lockAt(device, point);
      const after = await device.reopen();
      const held = Array.isArray(after) ? (after.join() === id ? 'its record' : `[${after.join()}]`) : after;
      seen.push(`${point}: ${first}; unlocked: ${held}`);
    }
    expect(seen).toEqual(points.map((point) => `${point}: LOCKED; unlocked: its record`));
  });
});
