// `session.changePassphrase` of the declared HaleSession (what the app's settings call): the new
// passphrase unlocks this device and joins another; the old one no longer does; a wrong current
// passphrase and a weak new one are refused and change nothing.
import { describe, expect, it } from 'vitest';
import { isHaleError } from '@hale/client';
import { openHaleForTests } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import { memoryVault } from '@hale/client';
import { useServer } from '../support/fixture';

const server = useServer();

const codeOf = (e: unknown): string => (isHaleError(e) ? e.code : `untyped ${String(e)}`);

describe('HaleSession.changePassphrase', () => {
  it('changes the passphrase for this device and others; refusals change nothing', async () => {
    const vault = memoryVault();
    const hale = await openHaleForTests({ server: server.t.url, platform: nodePlatform({ vault }) });
    const loginName = `cp-${Date.now().toString(36)}`;
    const { session } = await hale.createAccount({
      role: 'patient',
      passphrase: 'first passphrase here',
      loginName,
      deviceName: 'one',
    });
    await expect(
      session.changePassphrase({
        oldPassphrase: 'not the passphrase',
        newPassphrase: 'second passphrase here',
      }),
    ).rejects.toSatisfy((e) => codeOf(e) === 'WRONG_PASSPHRASE');
    await expect(
      session.changePassphrase({ oldPassphrase: 'first passphrase here', newPassphrase: 'short' }),
    ).rejects.toSatisfy((e) => codeOf(e) === 'WEAK_PASSPHRASE');
    await session.changePassphrase({
      oldPassphrase: 'first passphrase here',
      newPassphrase: 'second passphrase here',
    });
    await session.close();

    await expect(hale.unlock({ passphrase: 'first passphrase here' })).rejects.toSatisfy(
      (e) => codeOf(e) === 'WRONG_PASSPHRASE',
    );
    const again = await hale.unlock({ passphrase: 'second passphrase here' });
    await again.close();

    const other = await openHaleForTests({ server: server.t.url, platform: nodePlatform() });
    await expect(
      other.join({ loginName, passphrase: 'first passphrase here', deviceName: 'two' }),
    ).rejects.toSatisfy((e) => isHaleError(e));
    const joined = await other.join({ loginName, passphrase: 'second passphrase here', deviceName: 'two' });
    expect(joined.account.accountId).toBe(again.account.accountId);
    await joined.close();
  });
});
