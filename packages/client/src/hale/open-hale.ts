/**
 * `openHale({ server, platform })`: the one way in for an app. It answers a `Hale`, the account calls of
 * this device (sign-up, join, unlock), each of which hands back an open `HaleSession`.
 *
 * | call | reads | writes | then |
 * |---|---|---|---|
 * | `createAccount` | — | server, vault | a session on the new account; the recovery key, shown once |
 * | `join` / `joinWithRecoveryKey` | server | server, vault | a session on this new device |
 * | `unlock` / `unlockWithRecoveryKey` | vault | — | a session (offline too) |
 * | `startPairing` | server (relay) | server, vault | a pairing; its `confirm()` → a session on this new device |
 *
 * Failure modes: every refusal is a HaleError (AccountError for the account calls: WRONG_PASSPHRASE,
 * NO_ACCOUNT, LOGIN_TAKEN, …; HaleClientError for the server's answers). A session that fails to open
 * locks the account again, so no keys stay in memory for nothing.
 */
import { chooseEd25519, useHashes, useSecretbox, type Ed25519, type KdfSettings } from '@hale/crypto';
import {
  changePassphrase,
  assertUnlocked,
  createAccount,
  hasAccount,
  joinWithRoot,
  joinWithPassphrase,
  joinWithRecoveryKey,
  lock,
  publishProviderProfile,
  registrationMode,
  removeLocalAccount,
  revokeDevice,
  renameDevice,
  rememberDeviceName,
  searchProviders,
  unlock,
  unlockWithRecoveryKey,
  type AccountDeps,
  type CreateAccountInput,
  type JoinWithPassphraseInput,
  type JoinWithRecoveryKeyInput,
  type UnlockedAccount,
} from '../account/account';
import { AccountError } from '../core/account-error';
import { listDevices } from '../account/device-list';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { createSessionManager } from '../api/session-manager';
import { deviceDbName, openDeviceSession, type DeviceSessionOptions } from '../session/session';
import { removeDeviceDb } from '../store/device-db';
import { Subject } from 'rxjs';
import type { RemovedStream } from '../sync/engine';
import type { Platform } from './platform';
import { toHaleSession, type HaleSession } from './hale-session';
import { approvePairing } from '../pairing/approver';
import { startNewDevicePairing, type NewDevicePairing } from '../pairing/new-device';
import { httpPairingRelay } from '../pairing/relay-client';

/** Options of `openHale`: the sync server and the platform. */
export interface OpenHaleOptions {
  /** The sync server's base URL, e.g. `https://hale.example.org`. */
  readonly server: string;
  readonly platform: Platform;
}

/**
 * What `createAccount` answers: the open session and the recovery key.
 * - `notSaved` (`ACCOUNT_NOT_SAVED`) when the vault could not store the account; `saveAgain()` retries.
 */
export interface CreatedHaleAccount {
  readonly session: HaleSession;
  /** Show it now: it is stored nowhere, and this is the only time it is handed out. */
  readonly recoveryKey: string;
  /** The vault could not keep the account (see `createAccount`): offer `saveAgain`. */
  readonly notSaved?: AccountError;
  /** Tries to store the account in the vault again; present only with `notSaved`. */
  readonly saveAgain?: () => Promise<void>;
}

/**
 * The client before a session: create, join or unlock an account on this device.
 *
 * @throws `AccountError` (`ACCOUNT_ERROR_CODES`), and `HaleClientError` for server and network failures.
 */
export interface Hale {
  readonly server: string;
  /** Which sign-up screen to show. */
  registrationMode(): Promise<'open' | 'invite' | 'closed' | 'unknown'>;
  /** Whether this device holds an account (then `unlock`, else `createAccount` or `join`). */
  hasAccount(): Promise<boolean>;
  /**
   * Registers an account with this device as its first.
   * - A lost answer is sent again unchanged (`REGISTRATION_ATTEMPTS`); if the network fails every time it
   *   rejects `REGISTRATION_UNCONFIRMED` with `e.recoveryKey` (never in the message): show it, the account may
   *   exist.
   */
  createAccount(input: CreateAccountInput): Promise<CreatedHaleAccount>;
  /** Adds this device to an account with its login name and passphrase. */
  join(input: JoinWithPassphraseInput): Promise<HaleSession>;
  /** Adds this device with the recovery key, setting a new passphrase. */
  joinWithRecoveryKey(input: JoinWithRecoveryKeyInput): Promise<HaleSession>;
  /** Opens the account in the vault with its passphrase, offline. */
  unlock(input: { readonly passphrase: string }): Promise<HaleSession>;
  /** Opens the account in the vault with the recovery key, offline. */
  unlockWithRecoveryKey(input: { readonly recoveryKey: string }): Promise<HaleSession>;
  /** Forgets the account on this device (its vault entry); the records' store stays until removed. */
  removeLocalAccount(): Promise<void>;
  /**
   * Adds this device by pairing with a signed-in device of the account: show `code` (and `link` as a QR
   * code), compare the digits, `confirm()` → the session. ACCOUNT_EXISTS when this device holds an account.
   */
  startPairing(input: StartPairingInput): Promise<NewDevicePairing<HaleSession>>;
}

/** What `startPairing` needs to add this device by pairing with another device of the account. */
export interface StartPairingInput {
  readonly deviceName: string;
}

/** What only tests set (`@hale/client/testing`): never part of the public options. */
export interface HaleTestKnobs {
  readonly kdf?: KdfSettings;
  /** The session's clock (default `Date.now`). */
  readonly now?: () => number;
  /** Waits `ms` (default a timer), for backoffs. */
  readonly wait?: (ms: number) => Promise<void>;
  readonly session?: Partial<
    Pick<
      DeviceSessionOptions,
      | 'quarantineRetry'
      | 'reconnect'
      | 'busyRetry'
      | 'contentModel'
      | 'batchSize'
      | 'offline'
      | 'grantRefreshMs'
      | 'revocationRetryMs'
      | 'dbName'
    >
  >;
  readonly refreshMs?: number;
}

/** Opens the client on a platform (`webPlatform`, `nodePlatform`): the entry point of an app. */
export async function openHale(options: OpenHaleOptions): Promise<Hale> {
  return openHaleWith(options, {});
}

export async function openHaleWith(options: OpenHaleOptions, knobs: HaleTestKnobs): Promise<Hale> {
  const { platform } = options;
  const server = options.server.replace(/\/$/, '');
  const api: HttpApi = createHttpApi({ baseUrl: server, fetch: platform.fetch });
  const relay = httpPairingRelay({ baseUrl: server, fetch: platform.fetch });
  const ed: Ed25519 = await (platform.ed25519 ?? chooseEd25519)();
  const x25519 = platform.x25519 ? { x25519: platform.x25519() } : {};
  // Installed once loaded, not awaited: its chunk and WebAssembly stay off the unlock path, and what either
  // implementation seals the other opens (the same bytes), so the switch may fall between any two calls.
  if (platform.hashes) useHashes(platform.hashes());
  void platform
    .secretbox?.()
    .then((box) => box && useSecretbox(box))
    .catch(() => undefined);
  const deps: AccountDeps = {
    api,
    vault: platform.vault,
    ed,
    ...x25519,
    ...(knobs.now ? { now: knobs.now } : {}),
    ...(knobs.kdf ? { kdf: knobs.kdf, weakKdfForTests: true } : {}),
    ...(knobs.wait ? { wait: knobs.wait } : {}),
  };

  const open = async (account: UnlockedAccount): Promise<HaleSession> => {
    const offload = platform.cryptoOffload?.();
    const tokens = createSessionManager({
      api,
      device: account.device,
      ed,
      ...(knobs.now ? { now: knobs.now } : {}),
    });
    const purged = new Subject<{ removed: RemovedStream; count: number }>();
    try {
      const session = await openDeviceSession({
        account,
        serverUrl: server,
        createWebSocket: platform.createWebSocket,
        storage: platform.storage,
        getAccount: (accountId) => api.getAccount(accountId),
        getDevice: (accountId, deviceId) => api.getAccountDevice(accountId, deviceId),
        getServerInfo: () => api.serverInfo(),
        ed,
        ...x25519,
        vault: platform.vault,
        api,
        ...(platform.deviceLock ? { deviceLock: platform.deviceLock } : {}),
        ...(offload ? { cryptoOffload: offload } : {}),
        ...(platform.slicedReads ? { slicedReads: true } : {}),
        ...(knobs.now ? { now: knobs.now } : {}),
        onPurged: (removed, count) => purged.next({ removed, count }),
        ...knobs.session,
      });
      return toHaleSession({
        session,
        account,
        listDevices: async () => {
          const list = await listDevices(
            { api, ed, ...x25519 },
            {
              accountId: account.accountId,
              identityPublicKey: account.keys.identity.publicKey,
              deviceId: account.device.deviceId,
              wrapping: account.keys.wrapping,
            },
          );
          // This device renamed from another: its vault keeps the name for the next unlock.
          const named = list.active.find((d) => d.current)?.name;
          if (named !== undefined)
            await rememberDeviceName(deps.vault, account, named).catch(() => undefined);
          return list;
        },
        revokeDevice: (deviceId) => revokeDevice(deps, { account, deviceId }),
        renameDevice: (deviceId, name) => renameDevice(deps, { account, deviceId, name }),
        searchProviders: (q, page = {}) =>
          tokens.withToken((token) => searchProviders({ api, ed }, { q, ...page, token })),
        publishProfile: async (profile) => {
          await tokens.withToken((token) => publishProviderProfile({ api, ed }, { account, profile, token }));
        },
        changePassphrase: (input) =>
          tokens.withToken((token) => changePassphrase(deps, { ...input, account, token })),
        deleteAccount: () =>
          tokens.withToken((token) => api.deleteAccount({ accountId: account.accountId }, token)),
        wipeDevice: async () => {
          await removeDeviceDb({
            storage: platform.storage,
            name: knobs.session?.dbName ?? deviceDbName(account.accountId, account.device.deviceId),
            ...(platform.deviceLock ? { deviceLock: platform.deviceLock } : {}),
          });
          await removeLocalAccount(deps);
        },
        lock: () => lock(account),
        care: { api, ed, ...(knobs.now ? { now: knobs.now } : {}) },
        approvePairing: (code) =>
          approvePairing(
            { relay, ...(knobs.now ? { now: knobs.now } : {}), ...(knobs.wait ? { wait: knobs.wait } : {}) },
            {
              accountId: account.accountId,
              role: account.role,
              loginName: account.loginName ?? null,
              deviceId: account.device.deviceId,
              deviceName: account.deviceName,
              root: () => {
                assertUnlocked(account);
                return account.root.slice();
              },
            },
            code,
          ),
        io: { baseUrl: server, fetch: platform.fetch, withToken: (call) => tokens.withToken(call) },
        ...(offload?.close ? { onClose: () => offload.close?.() } : {}),
        ...(knobs.refreshMs === undefined ? {} : { refreshMs: knobs.refreshMs }),
        ...(knobs.now ? { now: knobs.now } : {}),
        purged$: purged,
      });
    } catch (e) {
      await offload?.close?.();
      lock(account);
      throw e;
    }
  };

  return {
    server,
    registrationMode: () => registrationMode({ api }),
    hasAccount: () => hasAccount(deps),
    async createAccount(input) {
      const created = await createAccount(deps, input);
      const session = await open(created.account);
      return {
        session,
        recoveryKey: created.recoveryKey,
        ...(created.notSaved ? { notSaved: created.notSaved } : {}),
        ...(created.saveAgain ? { saveAgain: created.saveAgain } : {}),
      };
    },
    join: async (input) => open(await joinWithPassphrase(deps, input)),
    joinWithRecoveryKey: async (input) => open(await joinWithRecoveryKey(deps, input)),
    unlock: async (input) => open(await unlock(deps, input)),
    unlockWithRecoveryKey: async (input) => open(await unlockWithRecoveryKey(deps, input)),
    removeLocalAccount: () => removeLocalAccount(deps),
    async startPairing(input) {
      if (await hasAccount(deps)) {
        throw new AccountError('ACCOUNT_EXISTS', 'this device already holds an account');
      }
      return startNewDevicePairing<HaleSession>(
        {
          relay,
          server,
          ...(knobs.now ? { now: knobs.now } : {}),
          ...(knobs.wait ? { wait: knobs.wait } : {}),
          join: async (paired) => {
            const account = await joinWithRoot(deps, {
              root: paired.root,
              deviceName: input.deviceName,
              role: paired.role,
              loginName: paired.loginName,
            });
            return { session: await open(account), deviceId: account.device.deviceId };
          },
        },
        { deviceName: input.deviceName },
      );
    },
  };
}
