// The identity keys a patient pins (verifyProvider, acceptInvite, a first grant) are kept whatever runs
// at the same time: a pin lost is a provider whose next grant trusts whatever key the server presents then.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring } from '../sync/keyring';
import { createConsent, type ConsentDeps } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const PROVIDERS = ['BBBBBBBBBBBBBBBBBBBBBB', 'CCCCCCCCCCCCCCCCCCCCCC', 'DDDDDDDDDDDDDDDDDDDDDD'] as const;
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

const setup = () => {
  const values = new Map<string, unknown>();
  const meta = createDeviceMeta({
    // Slow storage, as on a device: a read and a write each take a turn of the event loop.
    read: async (key) => {
      await tick();
      return values.get(key);
    },
    write: async (key, value) => {
      await tick();
      values.set(key, value);
    },
  });
  /** A key the server presents instead of an account's own (a changed key), by account id. */
  const replaced = new Map<string, Uint8Array>();
  const identityOf = (accountId: string): Uint8Array =>
    replaced.get(accountId) ?? new Uint8Array(32).fill(accountId.charCodeAt(0));
  const directory = {
    forget: () => undefined,
    presentedIdentity: async (accountId: string) => {
      await tick();
      return { key: identityOf(accountId), selfCertified: true };
    },
    wrappingKey: async () => new Uint8Array(32).fill(7),
    unpinWrappingKey: () => undefined,
  };
  const connection = {
    status: () => 'ready',
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string }) => {
      await tick();
      if (frame.t === 'grant') return { t: 'ok' };
      if (frame.t === 'listGrants') return { t: 'grants', grants: [] };
      throw new Error(`unexpected ${frame.t}`);
    },
  };
  const keyring = {
    useWriteGuard: () => undefined,
    invalidateWriteChecks: () => undefined,
    envelopesFor: async () => [],
    refresh: async () => {
      throw new Error('stub: no keys');
    },
  };
  const deps: ConsentDeps = {
    accountId: PATIENT,
    role: 'patient',
    keys: deriveAccountKeys(new Uint8Array(32).fill(1)),
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: createNodeEd25519(),
    connection: connection as unknown as Connection,
    keyring: keyring as unknown as Keyring,
    directory: directory as unknown as DeviceDirectory,
    now: () => Date.now(),
    meta,
    grantRefreshMs: 0,
  };
  const consent = createConsent(deps);
  const request = (granteeId: string) => ({
    granteeId,
    scope: [{ type: 'allergy' as const, access: 'read' as const }],
    durationMs: 3_600_000,
    purpose: 'care',
  });
  return { consent, request, replaced };
};

describe('consent pins', () => {
  it('two grants to two providers at once pin both keys', async () => {
    const { consent, request } = setup();
    await Promise.all([consent.grant(request(PROVIDERS[0])), consent.grant(request(PROVIDERS[1]))]);
    expect(await consent.isVerified(PROVIDERS[0])).toBe(true);
    expect(await consent.isVerified(PROVIDERS[1])).toBe(true);
  });

  it('a provider verified while a grant to another one runs stays verified', async () => {
    const { consent, request } = setup();
    await Promise.all([
      consent.grant(request(PROVIDERS[0])),
      consent.verifyProvider(PROVIDERS[1]),
      consent.acceptInvite(
        consent.inviteFor(PROVIDERS[2], new Uint8Array(32).fill(PROVIDERS[2].charCodeAt(0))),
      ),
    ]);
    for (const id of PROVIDERS) expect(await consent.isVerified(id)).toBe(true);
  });

  it('describeProvider says whether the key was compared before, and when it changed since', async () => {
    const { consent, request, replaced } = setup();
    const id = PROVIDERS[0];
    expect((await consent.describeProvider(id)).verified).toBe('no');
    await consent.verifyProvider(id);
    const same = await consent.describeProvider(id);
    expect(same.verified).toBe('yes');
    replaced.set(id, new Uint8Array(32).fill(9));
    const changed = await consent.describeProvider(id);
    expect(changed.verified).toBe('changed');
    expect(changed.fingerprint).not.toBe(same.fingerprint);
    // A grant is refused until the person compares again; then it goes through.
    await expect(consent.grant(request(id))).rejects.toMatchObject({ code: 'KEY_CHANGED' });
    await consent.verifyProvider(id);
    expect((await consent.describeProvider(id)).verified).toBe('yes');
    await expect(consent.grant(request(id))).resolves.toBeDefined();
  });
});
