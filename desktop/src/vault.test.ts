// The desktop vault through a fake safeStorage: a round trip, nothing clear on disk, and the refusals.
import { describe, expect, it } from 'vitest';
import { fakeSafeStorage, memoryFs, stubElectron } from './electron-stub.test-util';
import { safeStorageVault } from './vault';
import { createDesktopMain } from './desktop-main';

const vaultOn = (
  options: Parameters<typeof fakeSafeStorage>[0] = {},
  platform: NodeJS.Platform = 'linux',
) => {
  const fs = memoryFs();
  const safeStorage = fakeSafeStorage(options);
  return { fs, safeStorage, vault: safeStorageVault({ safeStorage, fs, file: '/u/vault.json', platform }) };
};

describe('safeStorage vault', () => {
  it('keeps values across instances, encrypted on disk', async () => {
    const { fs, safeStorage, vault } = vaultOn();
    expect(await vault.get('hale.account')).toBeNull();
    await vault.set('hale.account', '{"v":1,"secret":"wrapped-root"}');
    await vault.set('other', 'x');
    const onDisk = fs.files.get('/u/vault.json')?.toString() ?? '';
    expect(onDisk).not.toContain('wrapped-root');
    const again = safeStorageVault({ safeStorage, fs, file: '/u/vault.json', platform: 'linux' });
    expect(await again.get('hale.account')).toBe('{"v":1,"secret":"wrapped-root"}');
    await again.delete('hale.account');
    expect(await vault.get('hale.account')).toBeNull();
    expect(await vault.get('other')).toBe('x');
  });

  it('refuses when the OS has no encryption, or only the basic text store on Linux', async () => {
    for (const options of [{ available: false }, { backend: 'basic_text' }]) {
      const { fs, vault } = vaultOn(options);
      await expect(vault.set('k', 'v')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
      expect(fs.files.size).toBe(0);
    }
    // basic_text is a Linux matter; elsewhere the backend name does not apply.
    const mac = vaultOn({ backend: 'basic_text' }, 'darwin');
    await mac.vault.set('k', 'v');
    expect(await mac.vault.get('k')).toBe('v');
  });

  it('says so when an entry does not decrypt, or the file is damaged', async () => {
    const { fs, vault } = vaultOn();
    fs.files.set(
      '/u/vault.json',
      Buffer.from(JSON.stringify({ v: 1, entries: { k: Buffer.from('garbage').toString('base64') } })),
    );
    await expect(vault.get('k')).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    fs.files.set('/u/vault.json', Buffer.from('{not json'));
    await expect(vault.get('k')).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    fs.files.set('/u/vault.json', Buffer.from(JSON.stringify({ v: 2, entries: {} })));
    await expect(vault.get('k')).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
  });

  it('re-encrypts a value when the OS asks to', async () => {
    const { fs, safeStorage, vault } = vaultOn({ reEncrypt: true });
    await vault.set('k', 'v');
    const writes: string[] = [];
    const durable = fs.writeFileDurably.bind(fs);
    fs.writeFileDurably = async (p, d) => {
      writes.push(p);
      await durable(p, d);
    };
    expect(await vault.get('k')).toBe('v');
    expect(safeStorage.calls).toEqual(['encrypt', 'decrypt', 'encrypt']);
    expect(writes).toEqual(['/u/vault.json']);
  });

  it('round-trips through IPC as the page calls it, refusals in the answer', async () => {
    const stub = stubElectron();
    const fs = memoryFs();
    await createDesktopMain(stub.electron, {
      preloadPath: '/p.cjs',
      appDir: '/app',
      devServerUrl: null,
      fs,
      platform: 'linux',
    }).start();
    expect(await stub.invoke('hale:vault-set', { key: 'hale.account', value: 'record' })).toEqual({
      ok: true,
      value: null,
    });
    expect(await stub.invoke('hale:vault-get', { key: 'hale.account' })).toEqual({
      ok: true,
      value: 'record',
    });
    expect(fs.files.get('/user-data/hale-vault.json')?.toString()).not.toContain('record');
    expect(await stub.invoke('hale:vault-delete', { key: 'hale.account' })).toEqual({
      ok: true,
      value: null,
    });
    expect(await stub.invoke('hale:vault-get', { key: 'hale.account' })).toEqual({ ok: true, value: null });
  });
});
