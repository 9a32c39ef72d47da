// `@hale/client/testing`: what only tests set, kept out of the public options. `openHaleForTests` is
// `openHale` with a cheap KDF (never in a build a person uses: a passphrase under it is cheap to guess),
// an injected clock and waits, and the session's fault-injection knobs.
import { TEST_KDF, type Ed25519 } from '@hale/crypto';
import { listDevices } from './account/device-list';
import type { HttpApi } from './api/http-api';
import { toHaleSession, type HaleSession } from './hale/hale-session';
import { openHaleWith, type Hale, type HaleTestKnobs, type OpenHaleOptions } from './hale/open-hale';
import type { DeviceSession } from './session/session';

export type { HaleTestKnobs } from './hale/open-hale';
export { pageOf } from './records/record-query';

/**
 * `openHale` with a cheap KDF (never in a build a person uses: a passphrase under it is cheap to guess), and
 * the test knobs.
 */
export function openHaleForTests(options: OpenHaleOptions, knobs: HaleTestKnobs = {}): Promise<Hale> {
  return openHaleWith(options, { kdf: TEST_KDF, ...knobs });
}

/**
 * The declared session over a device session a test opened itself (`openDeviceSession` of
 * `@hale/client/advanced`, on an account the test server registered): what the app's code is handed.
 */
export function haleSessionOf(
  session: DeviceSession,
  deps: {
    readonly api: HttpApi;
    readonly ed: Ed25519;
    readonly refreshMs?: number;
    /** The session's clock, as the device session was given it. */
    readonly now?: () => number;
    readonly autoConfirm?: boolean;
  },
): HaleSession {
  const { api, ed } = deps;
  const account = session.account;
  return toHaleSession({
    session,
    account,
    listDevices: () =>
      listDevices(
        { api, ed },
        {
          accountId: account.accountId,
          identityPublicKey: account.keys.identity.publicKey,
          deviceId: account.device.deviceId,
          wrapping: account.keys.wrapping,
        },
      ),
    revokeDevice: () =>
      Promise.reject(new Error('haleSessionOf: revoking devices needs an unlocked account')),
    renameDevice: () =>
      Promise.reject(new Error('haleSessionOf: renaming devices needs an unlocked account')),
    searchProviders: () => Promise.reject(new Error('haleSessionOf: searching needs a session manager')),
    publishProfile: () => Promise.reject(new Error('haleSessionOf: publishing needs a session manager')),
    changePassphrase: () =>
      Promise.reject(new Error('haleSessionOf: changing the passphrase needs a session manager')),
    lock: () => undefined,
    care: {
      api,
      ed,
      ...(deps.now === undefined ? {} : { now: deps.now }),
      ...(deps.autoConfirm === undefined ? {} : { autoConfirm: deps.autoConfirm }),
    },
    ...(deps.refreshMs === undefined ? {} : { refreshMs: deps.refreshMs }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
}
