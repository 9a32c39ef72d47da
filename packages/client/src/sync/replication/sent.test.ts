import { describe, expect, it } from 'vitest';
import { createDeviceMeta } from '../../store/device-meta';
import type { EngineCore } from '../engine-core';
import { createSentLog } from './sent';

// Where this device's pushes of a record found the server's version (`storedAt`: stored there, or met a
// newer one there as a conflict): what a served version at or below it is (a late copy, receive.ts), kept
// per record at its highest, forgotten on a restore.
const sentLog = () => {
  const raw = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      raw.set(key, structuredClone(value));
    },
  });
  return createSentLog({ deps: { meta, device: { deviceId: 'dev-1' } } } as unknown as EngineCore);
};

describe('the positions the server stored pushes at', () => {
  it('are kept per record at their highest, and none is known for another record or stream', () => {
    const sent = sentLog();
    expect(sent.storedAt('acct/allergy', 'r1')).toBe(0);
    sent.noteStored('acct/allergy', 'r1', 7);
    // An answer that comes late (an older push's) lowers nothing.
    sent.noteStored('acct/allergy', 'r1', 5);
    expect(sent.storedAt('acct/allergy', 'r1')).toBe(7);
    expect(sent.storedAt('acct/allergy', 'r2')).toBe(0);
    expect(sent.storedAt('acct/medication', 'r1')).toBe(0);
  });

  it('rise to the position of a version a push met as a conflict, never fall', () => {
    const sent = sentLog();
    sent.noteStored('acct/allergy', 'r1', 3);
    sent.metInConflict('acct/allergy', 'r1', 9);
    expect(sent.storedAt('acct/allergy', 'r1')).toBe(9);
    sent.metInConflict('acct/allergy', 'r1', 4);
    sent.noteStored('acct/allergy', 'r1', 8);
    expect(sent.storedAt('acct/allergy', 'r1')).toBe(9);
  });

  it('are all forgotten when the server was restored (its positions are numbered anew)', () => {
    const sent = sentLog();
    sent.noteStored('acct/allergy', 'r1', 7);
    sent.forgetStored();
    expect(sent.storedAt('acct/allergy', 'r1')).toBe(0);
    sent.noteStored('acct/allergy', 'r1', 2);
    expect(sent.storedAt('acct/allergy', 'r1')).toBe(2);
  });
});
