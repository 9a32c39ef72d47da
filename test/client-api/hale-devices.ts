// Devices as an app opens them: `openHaleForTests` (openHale with the tests' cheap KDF) over
// `nodePlatform`, against a real server; every session opened is closed after the test.
import { afterEach } from 'vitest';
import { firstValueFrom, filter, timeout } from 'rxjs';
import type { Hale, HaleSession, Observed } from '@hale/client';
import { openHaleForTests, type HaleTestKnobs } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';

export const PASSPHRASE = 'a long passphrase only I know';

/** Sessions opened by the helpers below, closed after each test (before the server stops). */
export const useHaleSessions = (): HaleSession[] => {
  const sessions: HaleSession[] = [];
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
  });
  return sessions;
};

let counter = 0;
const uniqueLogin = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}`;

/** A new account on `server` and the session of its first device. */
export const createdSession = async (
  server: string,
  sessions: HaleSession[],
  options: { role?: 'patient' | 'provider'; knobs?: HaleTestKnobs } = {},
): Promise<{ session: HaleSession; loginName: string; hale: Hale }> => {
  const hale = await openHaleForTests({ server, platform: nodePlatform() }, options.knobs);
  const loginName = uniqueLogin(options.role ?? 'patient');
  const { session } = await hale.createAccount({
    role: options.role ?? 'patient',
    passphrase: PASSPHRASE,
    loginName,
    deviceName: 'first device',
  });
  sessions.push(session);
  return { session, loginName, hale };
};

/** A second device joining the account `loginName` with the passphrase. */
export const joinedSession = async (
  server: string,
  sessions: HaleSession[],
  loginName: string,
  knobs?: HaleTestKnobs,
): Promise<HaleSession> => {
  const hale = await openHaleForTests({ server, platform: nodePlatform() }, knobs);
  const session = await hale.join({ loginName, passphrase: PASSPHRASE, deviceName: 'second device' });
  sessions.push(session);
  return session;
};

/** Resolves with the Observed's value once `check` holds (now or at a later change); fails after `ms`. */
export const when = <T>(observed: Observed<T>, check: (value: T) => boolean, what: string, ms = 15_000) =>
  firstValueFrom(
    observed.$.pipe(
      filter(check),
      timeout({
        first: ms,
        with: () => {
          throw new Error(`timed out: ${what}`);
        },
      }),
    ),
  );

export const online = (s: HaleSession) => when(s.sync.state, (x) => x.status === 'online', 'online');
