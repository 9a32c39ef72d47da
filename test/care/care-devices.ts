// Devices for the care journeys, on a real server. `careSession`: a session as the app opens it
// (`openHaleForTests` over `nodePlatform`, its fetch and WebSocket factory cuttable). `careDevice` (for the
// tests that still need the server's view of a device's keys): a device session of support/devices.ts
// wrapped as the declared HaleSession (`haleSessionOf`). Either way the tests use `session.care` as an app does.
import type { GrantableStreamType } from '@hale/protocol';
import { createHttpApi, type DeviceSession } from '@hale/client/advanced';
import { haleSessionOf, openHaleForTests, type HaleTestKnobs } from '@hale/client/testing';
import type { HaleAccountInfo, HaleSession, Platform, WebSocketLike } from '@hale/client';
import { nodePlatform, type NodePlatformOptions } from '@hale/platform-node';
import { registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { ed, eventually, openDevice, waitOnline } from '../support/devices';
import { PASSPHRASE, when } from '../client-api/hale-devices';

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

/** A device's whole network: `down()` closes its socket and refuses new ones, and fails its HTTP calls. */
export interface CutNetwork {
  down(): void;
  up(): void;
}

/** `platform` with its fetch and WebSocket factory behind `network` (up at first). */
export const cuttablePlatform = (platform: Platform): { platform: Platform; network: CutNetwork } => {
  let reachable = true;
  const open = new Set<WebSocketLike>();
  const refused = (): WebSocketLike => {
    const socket: WebSocketLike = {
      readyState: 3,
      send: () => undefined,
      close: () => undefined,
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    setTimeout(() => {
      socket.onerror?.({});
      socket.onclose?.({ code: 1006, reason: 'offline' });
    }, 0);
    return socket;
  };
  const network: CutNetwork = {
    down: () => {
      reachable = false;
      for (const socket of open) socket.close(4000, 'network down');
      open.clear();
    },
    up: () => {
      reachable = true;
    },
  };
  return {
    platform: {
      ...platform,
      fetch: (url, init) =>
        reachable ? platform.fetch(url, init) : Promise.reject(new TypeError('fetch failed: offline')),
      createWebSocket: (url) => {
        if (!reachable) return refused();
        const socket = platform.createWebSocket(url);
        open.add(socket);
        return socket;
      },
    },
    network,
  };
};

export interface CareSession {
  readonly account: HaleAccountInfo;
  readonly hale: HaleSession;
  readonly loginName: string;
  readonly network: CutNetwork;
  /** The device's platform (its vault, its store): open a client on it and `unlock` to restart the device. */
  readonly platform: Platform;
}

/** Reconnects soon after the network is back (the default backoff grows to 15 s). */
const quickReconnect: HaleTestKnobs = { session: { reconnect: { initialMs: 20, maxMs: 200 } } };

let counter = 0;

/**
 * A device of a new account of `role` (or joining `join`'s account), opened as the app opens it, online,
 * added to `sessions` (closed after the test). `platform`: nodePlatform's options (its storage).
 */
export const careSession = async (
  t: TestServer,
  sessions: HaleSession[],
  role: 'patient' | 'provider',
  options: { join?: string; knobs?: HaleTestKnobs; platform?: NodePlatformOptions; online?: boolean } = {},
): Promise<CareSession> => {
  const { platform, network } = cuttablePlatform(nodePlatform(options.platform ?? {}));
  const knobs = { ...quickReconnect, ...options.knobs };
  const client = await openHaleForTests({ server: t.url, platform }, knobs);
  const deviceName = `care device ${++counter}`;
  let hale: HaleSession;
  let loginName: string;
  if (options.join !== undefined) {
    loginName = options.join;
    hale = await client.join({ loginName, passphrase: PASSPHRASE, deviceName });
  } else {
    loginName = `${role}-${Date.now().toString(36)}-${counter.toString(36)}`;
    ({ session: hale } = await client.createAccount({ role, passphrase: PASSPHRASE, loginName, deviceName }));
  }
  sessions.push(hale);
  if (options.online !== false) await when(hale.sync.state, (x) => x.status === 'online', 'online');
  return { account: hale.account, hale, loginName, network, platform };
};

/** `patient` verifies `provider`'s key and grants it `access` to `types` for a day. */
export const share = async (
  patient: CareDevice | CareSession,
  provider: CareDevice | CareSession,
  types: readonly GrantableStreamType[],
  access: 'read' | 'write' = 'write',
): Promise<void> => {
  if ('device' in patient) await patient.device.consent.verifyProvider(provider.account.accountId);
  else await patient.hale.consent.acceptInvite(provider.hale.consent.invite());
  const request = {
    granteeId: provider.account.accountId,
    scope: types.map((type) => ({ type, access })),
    durationMs: 24 * 3_600_000,
    purpose: 'care',
  };
  if ('device' in patient) await patient.device.consent.grant(request);
  else await patient.hale.consent.grant(request);
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
