// Devices for the care journeys: device sessions on a real server (support/devices.ts), each wrapped as the
// declared HaleSession an app is handed (`haleSessionOf`), so the tests use `session.care` as an app does.
import type { GrantableStreamType } from '@hale/protocol';
import { createHttpApi, type DeviceSession } from '@hale/client/advanced';
import { haleSessionOf } from '@hale/client/testing';
import type { HaleSession } from '@hale/client';
import { registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { ed, eventually, openDevice, waitOnline } from '../support/devices';

export interface CareDevice {
  readonly account: TestAccount;
  readonly device: DeviceSession;
  readonly hale: HaleSession;
  /** The device's whole network: `down()` stops its socket and fails its HTTP calls (NETWORK), `up()` restores both. */
  readonly network: { down(): void; up(): void };
}

/** A new account of `role` with one device online (added to `sessions`), as a HaleSession. */
export const careDevice = async (
  t: TestServer,
  sessions: DeviceSession[],
  role: 'patient' | 'provider',
  options: { autoConfirm?: boolean } = {},
): Promise<CareDevice> => {
  const account = await registerAccount(t, role);
  let reachable = true;
  const api = createHttpApi({
    baseUrl: t.url,
    fetch: (url, init) =>
      reachable ? fetch(url, init) : Promise.reject(new TypeError('fetch failed: offline')),
  });
  const device = await openDevice(t, account, { api });
  sessions.push(device);
  await waitOnline(device);
  const hale = haleSessionOf(device, {
    api,
    ed,
    ...(options.autoConfirm === undefined ? {} : { autoConfirm: options.autoConfirm }),
  });
  const network = {
    down: () => {
      reachable = false;
      device.sync.goOffline();
    },
    up: () => {
      reachable = true;
      device.sync.goOnline();
    },
  };
  return { account, device, hale, network };
};

/** `patient` verifies `provider`'s key and grants it `access` to `types` for a day. */
export const share = async (
  patient: CareDevice,
  provider: CareDevice,
  types: readonly GrantableStreamType[],
  access: 'read' | 'write' = 'write',
): Promise<void> => {
  await patient.device.consent.verifyProvider(provider.account.accountId);
  await patient.device.consent.grant({
    granteeId: provider.account.accountId,
    scope: types.map((type) => ({ type, access })),
    durationMs: 24 * 3_600_000,
    purpose: 'care',
  });
};

/** Waits until `observed` (an Observed's get) satisfies `check`, polling. */
export const until = <T>(
  get: () => T,
  check: (value: T) => boolean,
  what: string,
  ms?: number,
): Promise<void> => eventually(() => check(get()), what, ms);

/** Keeps an Observed subscribed for the test (its source runs only while listened to); answers its stop. */
export const listen = (observed: { subscribe: (f: () => void) => () => void }): (() => void) =>
  observed.subscribe(() => undefined);
