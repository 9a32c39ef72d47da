// lock() zeroes the account's device key in place at any await. openSession waits for the server's
// challenge before it signs: a lock during that wait must end the open LOCKED, not sign the challenge with
// the zeroes the lock left (a signature the server refuses, made with a key that is all zeroes).
import { describe, expect, it } from 'vitest';
import { authSignaturePayload } from '@hale/protocol';
import type { HttpChallengeResponse, HttpSessionRequest, HttpSessionResponse } from '@hale/protocol';
import {
  base64urlDecode,
  base64urlEncode,
  generateDeviceKeys,
  randomBytes,
  verifyCanonical,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { isAccountError } from '../core/account-error';
import { openSession, type SessionDevice } from './session-manager';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;

const challengeAnswer = (): HttpChallengeResponse => ({
  challengeId: base64urlEncode(randomBytes(16)),
  nonce: base64urlEncode(randomBytes(32)),
  serverId: 'srv_test',
  expiresAt: new Date(Date.now() + 60_000).toISOString(),
});

/**
 * A server whose challenge answer waits for `during` (run while openSession awaits it), and that records
 * every session request and whether its signature verifies under the device's public key.
 */
const heldServer = (publicKey: Uint8Array, during: () => void) => {
  const sessions: { request: HttpSessionRequest; verifies: boolean }[] = [];
  let issued: HttpChallengeResponse | undefined;
  const api = {
    async challenge(): Promise<HttpChallengeResponse> {
      await Promise.resolve();
      during();
      issued = challengeAnswer();
      return issued;
    },
    async session(request: HttpSessionRequest): Promise<HttpSessionResponse> {
      if (issued === undefined) throw new Error('session before challenge');
      const payload = authSignaturePayload({
        nonce: issued.nonce,
        deviceId: request.deviceId,
        serverId: issued.serverId,
      });
      const sig = base64urlDecode(request.sig);
      const verifies = sig.ok && (await verifyCanonical(ed, publicKey, payload.label, payload, sig.value));
      sessions.push({ request, verifies });
      return { token: 'tok_0123456789abcdef', expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    },
  };
  return { api, sessions };
};

describe('openSession and a lock while it waits', () => {
  it('signs a challenge the server verifies when nothing is locked', async () => {
    const keys = generateDeviceKeys();
    const device: SessionDevice = { deviceId: keys.deviceId, secretKey: keys.secretKey };
    const server = heldServer(keys.publicKey, () => undefined);
    await expect(openSession(server.api, device, ed)).resolves.toMatchObject({
      token: 'tok_0123456789abcdef',
    });
    expect(server.sessions.map((s) => s.verifies)).toEqual([true]);
  });

  it('answers LOCKED and sends no signature when the key is zeroed while the challenge is fetched', async () => {
    const keys = generateDeviceKeys();
    const device: SessionDevice = { deviceId: keys.deviceId, secretKey: keys.secretKey.slice() };
    // What lock() does to the account's device key: zeroes its bytes in place.
    const server = heldServer(keys.publicKey, () => device.secretKey.fill(0));
    const error: unknown = await openSession(server.api, device, ed).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isAccountError(error) ? error.code : error).toBe('LOCKED');
    expect(server.sessions).toEqual([]);
  });

  it('answers LOCKED before asking for a challenge when the key is already zeroed', async () => {
    const keys = generateDeviceKeys();
    const device: SessionDevice = { deviceId: keys.deviceId, secretKey: new Uint8Array(64) };
    let challenges = 0;
    const server = heldServer(keys.publicKey, () => (challenges += 1));
    const error: unknown = await openSession(server.api, device, ed).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isAccountError(error) ? error.code : error).toBe('LOCKED');
    expect({ challenges, sessions: server.sessions.length }).toEqual({ challenges: 0, sessions: 0 });
  });
});
