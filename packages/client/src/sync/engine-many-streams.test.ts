// A provider at the documented bounds (MAX_ACCEPTED_GRANTS patients, each up to 13 record types) holds
// some 140k streams. Everything the engine does once per access change must take that many without
// passing them as arguments (an engine takes only so many: V8 throws past ≈125k).
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamAccess } from '@hale/protocol';
import { closeOpened } from './scripted-server.test-util';
import { keyWaitDevice, keyWaitServer } from './key-wait-server.test-util';

afterEach(closeOpened);

const STREAMS = 140_000;
const DAY = 86_400_000;

/** `n` distinct patients' allergy streams, read access ending in a day and onward. */
const manyStreams = (n: number): StreamAccess[] =>
  Array.from({ length: n }, (_, i) => {
    const patientId = `P${i.toString(36).padStart(21, '0')}`;
    return {
      stream: `${patientId}/allergy`,
      patientId,
      type: 'allergy',
      access: 'read',
      head: 0,
      epoch: 0,
      expiresAt: new Date(Date.now() + DAY + i).toISOString(),
    };
  });

describe('an engine holding ~140k streams', () => {
  it('starts offline from the stored access list and arms the soonest end', async () => {
    const raw = new Map<string, unknown>([['access', { streams: manyStreams(STREAMS), ended: [] }]]);
    const d = await keyWaitDevice(keyWaitServer(), `engine-many-streams-${Date.now()}`, [], raw, {
      offline: true,
    });
    expect(d.engine.state().streams).toBe(STREAMS);
  }, 120_000);
});
