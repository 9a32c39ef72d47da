// A server restored from a backup older than the account's last passphrase change, with no store to carry
// that change from (docs/operations.md: "a lost disk, a new machine"), stopped and started over its data
// directory as a server process is (restore/restore.e2e.test.ts restores a real process): it serves an older
// generation than the devices hold. The devices must still refuse to go back to it, and the
// patient must still be able to change the passphrase, from any device.
import { describe, expect, it } from 'vitest';
import {
  changePassphrase,
  createAccount,
  createHttpApi,
  isAccountError,
  joinWithPassphrase,
  lock,
  memoryVault,
  openSession,
  refreshWrappedRoot,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from '@hale/client/advanced';
import { TEST_KDF } from '@hale/crypto';
import { ed } from '../support/devices';
import { useRestorableServer } from '../support/restorable-server';

const P1 = 'passphrase at the backup';
const P2 = 'passphrase changed after the backup';
const P3 = 'passphrase set after the restore';
const P4 = 'passphrase set on the phone later';

const codeOf = async (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isAccountError(e) ? e.code : e),
  );

describe('passphrase changes after a restore from an older backup', () => {
  const { start } = useRestorableServer('hale-passphrase-restore-', { lostDisk: true, inProcess: true });

  it('a device holding a newer generation than the restored server changes the passphrase, and the others follow', async () => {
    const { t, backup, restore } = await start();
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const deps = (): AccountDeps & { vault: ReturnType<typeof memoryVault> } => ({
      api,
      vault: memoryVault(),
      ed,
      kdf: TEST_KDF,
      weakKdfForTests: true,
    });
    const tokenOf = async (a: UnlockedAccount) => (await openSession(api, a.device, ed)).token;

    const loginName = `restored-${Date.now().toString(36)}`;
    const laptopDeps = deps();
    const { account: laptop } = await createAccount(laptopDeps, {
      role: 'patient',
      passphrase: P1,
      loginName,
      deviceName: 'laptop',
    });
    const phoneDeps = deps();
    const phone = await joinWithPassphrase(phoneDeps, { loginName, passphrase: P1, deviceName: 'phone' });
    await backup();

    await changePassphrase(laptopDeps, {
      account: laptop,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(laptop),
    });
    expect(await refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) })).toEqual({
      status: 'updated',
      gen: 1,
    });

    const restored = await restore();
    expect(restored.warnings.join('\n')).toMatch(/passphrase changes/);
    expect((await api.getWrappedRoot(await tokenOf(laptop))).gen).toBe(0);
    // Still no going back: the phone keeps generation 1 and the passphrase set with it.
    expect(await codeOf(refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) }))).toBe(
      'WRAPPED_ROOT_REFUSED',
    );

    // The patient changes the passphrase again, as the restore's warning says to.
    await changePassphrase(laptopDeps, {
      account: laptop,
      oldPassphrase: P2,
      newPassphrase: P3,
      token: await tokenOf(laptop),
    });
    // Past every generation the laptop knew, so the devices that took the lost change follow it.
    expect((await api.getWrappedRoot(await tokenOf(laptop))).gen).toBe(2);
    expect(await refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) })).toEqual({
      status: 'updated',
      gen: 2,
    });
    lock(phone);
    expect(await codeOf(unlock(phoneDeps, { passphrase: P2 }))).toBe('WRONG_PASSPHRASE');
    const reopened = await unlock(phoneDeps, { passphrase: P3 });

    // The backup's passphrase joins no device any more; the new one does.
    expect(await codeOf(joinWithPassphrase(deps(), { loginName, passphrase: P1, deviceName: 'x' }))).toBe(
      'WRONG_PASSPHRASE',
    );
    const tablet = await joinWithPassphrase(deps(), { loginName, passphrase: P3, deviceName: 'tablet' });
    expect(tablet.accountId).toBe(laptop.accountId);

    // And the phone, once level, changes it as usual; the laptop follows.
    await changePassphrase(phoneDeps, {
      account: reopened,
      oldPassphrase: P3,
      newPassphrase: P4,
      token: await tokenOf(reopened),
    });
    expect(await refreshWrappedRoot(laptopDeps, { account: laptop, token: await tokenOf(laptop) })).toEqual({
      status: 'updated',
      gen: 3,
    });
  }, 120_000);

  it('the device that held the restored generation and the one ahead of it can each change the passphrase', async () => {
    const { t, backup, restore } = await start();
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const deps = (): AccountDeps & { vault: ReturnType<typeof memoryVault> } => ({
      api,
      vault: memoryVault(),
      ed,
      kdf: TEST_KDF,
      weakKdfForTests: true,
    });
    const tokenOf = async (a: UnlockedAccount) => (await openSession(api, a.device, ed)).token;

    const loginName = `restored-behind-${Date.now().toString(36)}`;
    const laptopDeps = deps();
    const { account: laptop } = await createAccount(laptopDeps, {
      role: 'patient',
      passphrase: P1,
      loginName,
      deviceName: 'laptop',
    });
    const phoneDeps = deps();
    const phone = await joinWithPassphrase(phoneDeps, { loginName, passphrase: P1, deviceName: 'phone' });
    await backup();
    // The laptop changes it twice after the backup; the phone, offline, hears of neither.
    for (const [from, to] of [
      [P1, P2],
      [P2, P3],
    ] as const) {
      await changePassphrase(laptopDeps, {
        account: laptop,
        oldPassphrase: from,
        newPassphrase: to,
        token: await tokenOf(laptop),
      });
    }
    await restore();

    // The phone holds the restored generation 0: its change is the next one, 1, which the laptop (at 2)
    // refuses as older — it keeps the passphrase it knows rather than go back a generation.
    await changePassphrase(phoneDeps, {
      account: phone,
      oldPassphrase: P1,
      newPassphrase: P4,
      token: await tokenOf(phone),
    });
    expect(
      await codeOf(refreshWrappedRoot(laptopDeps, { account: laptop, token: await tokenOf(laptop) })),
    ).toBe('WRAPPED_ROOT_REFUSED');
    // The laptop's change then goes past both (3), and the phone follows it.
    await changePassphrase(laptopDeps, {
      account: laptop,
      oldPassphrase: P3,
      newPassphrase: P2,
      token: await tokenOf(laptop),
    });
    expect(await refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) })).toEqual({
      status: 'updated',
      gen: 3,
    });
  }, 120_000);
});
