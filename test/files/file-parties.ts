// The devices of a file test, opened as the app opens them (`openHaleForTests` over `nodePlatform`) against a
// real server: a test may wrap the platform's `fetch` (to drop requests) or give its storage, and set knobs;
// a restart by unlock (the store kept), a patient's write grant and the grantee's wait for it.
import type { RxStorage } from 'rxdb';
import type { FetchLike, HaleSession, Platform } from '@hale/client';
import { openHaleForTests, type HaleTestKnobs } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import type { GrantableStreamType } from '@hale/protocol';
import { PASSPHRASE, when } from '../client-api/hale-devices';

export interface FileDeviceOptions {
  readonly role?: 'patient' | 'provider';
  /** Joins this account (its login name) with the passphrase instead of creating one. */
  readonly join?: string;
  /** Wraps the platform's fetch: every HTTP request of the device goes through it. */
  readonly fetch?: (real: FetchLike) => FetchLike;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly storage?: RxStorage<any, any>;
  readonly knobs?: HaleTestKnobs;
}

let counter = 0;

/**
 * A device (added to `sessions`, closed after the test), with its `loginName`, `platform` (vault, store) and,
 * for a new account, its `recoveryKey`.
 */
export const openFileDevice = async (
  server: string,
  sessions: HaleSession[],
  options: FileDeviceOptions = {},
) => {
  const node = nodePlatform(options.storage === undefined ? {} : { storage: options.storage });
  const platform = options.fetch ? { ...node, fetch: options.fetch(node.fetch) } : node;
  const hale = await openHaleForTests({ server, platform }, options.knobs);
  const name = `device ${++counter}`;
  if (options.join !== undefined) {
    const session = await hale.join({ loginName: options.join, passphrase: PASSPHRASE, deviceName: name });
    sessions.push(session);
    return { session, loginName: options.join, hale, platform };
  }
  const role = options.role ?? 'patient';
  const loginName = `${role}-${Date.now().toString(36)}-${counter.toString(36)}`;
  const { session, recoveryKey } = await hale.createAccount({
    role,
    passphrase: PASSPHRASE,
    loginName,
    deviceName: name,
  });
  sessions.push(session);
  return { session, loginName, hale, platform, recoveryKey };
};

/** The account `platform` holds (its vault), unlocked again with `knobs`: the device restarted, its store kept. */
export const restartedDevice = async (
  server: string,
  sessions: HaleSession[],
  platform: Platform,
  knobs?: HaleTestKnobs,
): Promise<HaleSession> => {
  const hale = await openHaleForTests({ server, platform }, knobs);
  const session = await hale.unlock({ passphrase: PASSPHRASE });
  sessions.push(session);
  return session;
};

/** Closes `s` and takes it off `sessions`. */
export const closeDevice = async (sessions: HaleSession[], s: HaleSession): Promise<void> => {
  sessions.splice(sessions.indexOf(s), 1);
  await s.close();
};

/** The patient `p` grants `granteeId` writing `type` of its chart for an hour. */
export const writeGrant = (p: HaleSession, granteeId: string, type: GrantableStreamType) =>
  p.consent.grant({
    granteeId,
    scope: [{ type, access: 'write' }],
    durationMs: 3_600_000,
    purpose: 'follow-up',
  });

/** Resolves once `d` lists write access to `type` of `patientId`'s chart (`consent.grantsReceived`). */
export const mayWrite = (d: HaleSession, patientId: string, type: GrantableStreamType) =>
  when(
    d.consent.grantsReceived,
    (gs) =>
      gs.some(
        (g) => g.patientId === patientId && g.streams.some((s) => s.type === type && s.access === 'write'),
      ),
    'the provider may write',
  );
