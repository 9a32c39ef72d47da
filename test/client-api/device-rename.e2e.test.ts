// `session.devices.rename` through `openHale`, against a real server, with the account's devices open at
// the same time: a name given on one device shows on the others (and on one that joins later), two devices
// renaming one device at once end agreeing, the name is never in clear in the server's files, and a revoked
// or unknown device cannot be renamed.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHaleError, type HaleSession } from '@hale/client';
import { useServer } from '../support/fixture';
import { createdSession, joinedSession, useHaleSessions, when } from './hale-devices';

const nameIn = (session: HaleSession, deviceId: string): string | undefined =>
  session.devices.list.get()?.active.find((d) => d.deviceId === deviceId)?.name;

/** Resolves once `session`'s list (refreshed) names `deviceId` `name`. */
const shows = async (session: HaleSession, deviceId: string, name: string): Promise<void> => {
  session.devices.refresh();
  await when(session.devices.list, () => nameIn(session, deviceId) === name, `${deviceId} named ${name}`);
};

const refusal = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'done',
    (e: unknown) => (isHaleError(e) ? e.code : String(e)),
  );

describe('session.devices.rename', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('a name given on one device shows on every device of the account, a later one included', async () => {
    const { session: laptop, loginName, hale } = await createdSession(server.t.url, sessions);
    const phone = await joinedSession(server.t.url, sessions, loginName);
    const laptopId = laptop.account.deviceId;
    const phoneId = phone.account.deviceId;
    await shows(laptop, phoneId, 'second device');

    // Each names the other while the other renames itself.
    await Promise.all([
      laptop.devices.rename(phoneId, 'Mei’s phone'),
      phone.devices.rename(laptopId, '客廳的筆電'),
    ]);
    for (const session of [laptop, phone]) {
      await shows(session, phoneId, 'Mei’s phone');
      await shows(session, laptopId, '客廳的筆電');
    }
    const tablet = await joinedSession(server.t.url, sessions, loginName);
    await shows(tablet, laptopId, '客廳的筆電');
    await shows(tablet, phoneId, 'Mei’s phone');

    // Renamed from the phone, the laptop keeps its new name for the next unlock (its vault), once listed.
    await laptop.lock();
    const again = await hale.unlock({ passphrase: 'a long passphrase only I know' });
    sessions.push(again);
    expect(again.account.deviceName).toBe('客廳的筆電');
  });

  it('two devices renaming one device at the same moment end showing the same name', async () => {
    const { session: laptop, loginName } = await createdSession(server.t.url, sessions);
    const phone = await joinedSession(server.t.url, sessions, loginName);
    const phoneId = phone.account.deviceId;
    await shows(laptop, phoneId, 'second device');
    for (let round = 0; round < 3; round++) {
      const names = [`from laptop ${round}`, `from phone ${round}`] as const;
      await Promise.all([laptop.devices.rename(phoneId, names[0]), phone.devices.rename(phoneId, names[1])]);
      laptop.devices.refresh();
      phone.devices.refresh();
      // Both answered; whichever the server kept last is the name both show.
      await when(
        laptop.devices.list,
        () => names.some((n) => n === nameIn(laptop, phoneId)),
        'the laptop shows one of the two names',
      );
      const kept = nameIn(laptop, phoneId) ?? '';
      await shows(phone, phoneId, kept);
    }
  });

  it('the name is never in clear on the server; a removed, unknown or nameless device is refused', async () => {
    const { session: laptop, loginName } = await createdSession(server.t.url, sessions);
    const phone = await joinedSession(server.t.url, sessions, loginName);
    const phoneId = phone.account.deviceId;
    const marker = `name-marker-${Math.random().toString(36).slice(2)}`;
    await laptop.devices.rename(laptop.account.deviceId, marker);
    await shows(phone, laptop.account.deviceId, marker);
    for (const file of await readdir(server.t.dataDir)) {
      const bytes = await readFile(path.join(server.t.dataDir, file)).catch(() => null);
      expect(bytes?.includes(marker) ?? false, file).toBe(false);
    }

    expect(await refusal(laptop.devices.rename(phoneId, ''))).toBe('INVALID_DEVICE_NAME');
    expect(await refusal(laptop.devices.rename(phoneId, 'x'.repeat(101)))).toBe('INVALID_DEVICE_NAME');
    expect(await refusal(laptop.devices.rename('A'.repeat(22), 'no such device'))).toBe('NOT_FOUND');
    await laptop.devices.revoke(phoneId);
    expect(await refusal(laptop.devices.rename(phoneId, 'after removal'))).toBe('DEVICE_REVOKED');
    await laptop.lock();
    expect(await refusal(laptop.devices.rename(laptop.account.deviceId, 'locked'))).toBe('LOCKED');
  });
});
