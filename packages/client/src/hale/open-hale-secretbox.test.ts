// openHale installs the platform's secretbox for its thread once it has loaded, without waiting for it;
// a platform without one, or whose load answers null or fails, leaves tweetnacl.
import { afterEach, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { secretboxName, tweetnaclEd25519, useSecretbox, type FastSecretbox } from '@hale/crypto';
import { memoryVault } from '../account/vault';
import { openHale } from './open-hale';
import type { Platform } from './platform';

const fakeBox: FastSecretbox = {
  name: 'stand-in',
  sealInto: () => undefined,
  open: () => null,
};

const platformWith = (secretbox?: Platform['secretbox']): Platform => ({
  name: 'test',
  fetch: () => Promise.reject(new Error('no network here')),
  createWebSocket: () => {
    throw new Error('no sockets here');
  },
  storage: getRxStorageMemory(),
  vault: memoryVault(),
  ed25519: () => Promise.resolve(tweetnaclEd25519),
  ...(secretbox ? { secretbox } : {}),
});

afterEach(() => useSecretbox(null));

describe("openHale and the platform's secretbox", () => {
  it('installs it once loaded, without holding openHale up for it', async () => {
    let loaded: (box: FastSecretbox) => void = () => undefined;
    const pending = new Promise<FastSecretbox>((resolve) => (loaded = resolve));
    const hale = await openHale({ server: 'http://127.0.0.1:9', platform: platformWith(() => pending) });
    expect(secretboxName()).toBe('tweetnacl');
    loaded(fakeBox);
    await pending;
    await Promise.resolve();
    expect(secretboxName()).toBe('stand-in');
    expect(hale).toBeDefined();
  });

  it('keeps tweetnacl without one, or when it loads nothing or fails', async () => {
    await openHale({ server: 'http://127.0.0.1:9', platform: platformWith() });
    await openHale({ server: 'http://127.0.0.1:9', platform: platformWith(() => Promise.resolve(null)) });
    await openHale({
      server: 'http://127.0.0.1:9',
      platform: platformWith(() => Promise.reject(new Error('x'))),
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(secretboxName()).toBe('tweetnacl');
  });
});
