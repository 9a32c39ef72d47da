import { describe, expect, it } from 'vitest';
import { randomBytes } from '@hale/crypto';
import { PairingNamePayload, PairingRootPayload } from '@hale/protocol';
import { isPairingError } from './errors';
import {
  newEphemeralSide,
  openPayload,
  opensCommit,
  pairingCommit,
  pairingKeys,
  sealPayload,
  shortAuthenticationString,
  transcriptHash,
  type PairingTranscript,
} from './pairing-crypto';

const sides = () => {
  const approver = newEphemeralSide();
  const fresh = newEphemeralSide();
  const t: PairingTranscript = {
    code: 'K7M3Q9XDPA',
    commit: pairingCommit(fresh.publicKey, fresh.nonce),
    approverKey: approver.publicKey,
    approverNonce: approver.nonce,
    newKey: fresh.publicKey,
    newNonce: fresh.nonce,
  };
  return { approver, fresh, t };
};

const tamperedError = (fn: () => unknown): void => {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(isPairingError(caught) && caught.code === 'PAIRING_TAMPERED').toBe(true);
};

describe('pairing cryptography', () => {
  it('commits to the key and nonce: another key or nonce does not open the commitment', () => {
    const { fresh, approver } = sides();
    const commit = pairingCommit(fresh.publicKey, fresh.nonce);
    expect(opensCommit(commit, fresh.publicKey, fresh.nonce)).toBe(true);
    expect(opensCommit(commit, approver.publicKey, fresh.nonce)).toBe(false);
    expect(opensCommit(commit, fresh.publicKey, approver.nonce)).toBe(false);
  });

  it('shows six digits, the same on both sides, different when any part of the transcript differs', () => {
    const { t } = sides();
    const sas = shortAuthenticationString(transcriptHash(t));
    expect(sas).toMatch(/^[0-9]{3} [0-9]{3}$/);
    expect(shortAuthenticationString(transcriptHash({ ...t }))).toBe(sas);
    const other = newEphemeralSide();
    // Each field changes the digits (a 1 in a million collision would fail this test: accepted).
    for (const changed of [
      { ...t, code: 'K7M3Q9XDPB' },
      { ...t, approverKey: other.publicKey },
      { ...t, approverNonce: other.nonce },
      { ...t, newKey: other.publicKey },
      { ...t, newNonce: other.nonce },
      { ...t, commit: randomBytes(32) },
    ]) {
      expect(shortAuthenticationString(transcriptHash(changed))).not.toBe(sas);
    }
  });

  it('derives the same keys on both sides, one per direction', () => {
    const { approver, fresh, t } = sides();
    const h = transcriptHash(t);
    const onApprover = pairingKeys(approver.secretKey, fresh.publicKey, h);
    const onNew = pairingKeys(fresh.secretKey, approver.publicKey, h);
    expect(onApprover).toEqual(onNew);
    expect(onApprover.toNew).not.toEqual(onApprover.toApprover);
    // Another transcript (e.g. another code) gives other keys over the same exchange.
    const other = pairingKeys(
      approver.secretKey,
      fresh.publicKey,
      transcriptHash({ ...t, code: 'ZZZZZZZZZZ' }),
    );
    expect(other.toNew).not.toEqual(onApprover.toNew);
  });

  it('refuses a low-order key (an all-zero shared secret)', () => {
    const { fresh, t } = sides();
    tamperedError(() => pairingKeys(fresh.secretKey, new Uint8Array(32), transcriptHash(t)));
  });

  it('opens only a box of its key, kind and shape', () => {
    const { approver, fresh, t } = sides();
    const keys = pairingKeys(approver.secretKey, fresh.publicKey, transcriptHash(t));
    const box = sealPayload(keys.toApprover, { k: 'name', deviceName: 'Pixel' });
    expect(openPayload(keys.toApprover, box, PairingNamePayload, 'name')).toEqual({
      k: 'name',
      deviceName: 'Pixel',
    });
    // The other direction's key, a flipped byte, another kind of payload: refused.
    tamperedError(() => openPayload(keys.toNew, box, PairingNamePayload, 'name'));
    const flipped = (box.startsWith('A') ? 'B' : 'A') + box.slice(1);
    tamperedError(() => openPayload(keys.toApprover, flipped, PairingNamePayload, 'name'));
    tamperedError(() => openPayload(keys.toApprover, box, PairingRootPayload, 'root'));
    tamperedError(() => openPayload(keys.toApprover, 'not base64!', PairingNamePayload, 'name'));
  });
});
