// A session's stream keys do not outlive it: closed, every key its keyring held is zeroes; locked, they are
// dropped at once (no longer handed out) and zeroed at the close, once no work under way can still seal
// with them (never under zeroes).
import { describe, expect, it } from 'vitest';
import { lock } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { openDevice, sessionAccount, waitOnline } from '../support/devices';

const zeroes = (key: Uint8Array): boolean => key.every((b) => b === 0);

describe("a session's stream keys at close and lock", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('are zeroes once the session closed', async () => {
    const patient = await registerAccount(server.t);
    const s = await openDevice(server.t, patient);
    sessions.push(s);
    await waitOnline(s);
    const stream = `${patient.accountId}/allergy`;
    const key = (await s.keyring.writeKey(stream))!.key;
    expect(zeroes(key)).toBe(false);
    await s.close();
    sessions.splice(sessions.indexOf(s), 1);
    expect(zeroes(key)).toBe(true);
  });

  it('are no longer handed out once the account is locked, and zeroes at the close that follows', async () => {
    const patient = await registerAccount(server.t);
    const account = sessionAccount(patient);
    const s = await openDevice(server.t, patient, { sessionAccount: account });
    sessions.push(s);
    await waitOnline(s);
    const stream = `${patient.accountId}/allergy`;
    const key = (await s.keyring.writeKey(stream))!.key;
    lock({ ...account, deviceName: 'phone' });
    expect(await s.keyring.keyFor(stream, 0)).toBeNull();
    // Work under way may still hold it: whole until the close.
    expect(zeroes(key)).toBe(false);
    await s.close();
    sessions.splice(sessions.indexOf(s), 1);
    expect(zeroes(key)).toBe(true);
  });
});
