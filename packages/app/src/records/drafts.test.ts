import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HaleSession } from '@hale/client';
import { dropDraft, loadDraft, saveDraft } from './drafts';

/** The device's draft store as `session.drafts` answers it, in memory. */
const deviceStore = () => {
  const kept = new Map<string, Readonly<Record<string, unknown>>>();
  const session = {
    drafts: {
      get: (key: string) => Promise.resolve(kept.has(key) ? { values: kept.get(key)! } : null),
      set: (key: string, values: Readonly<Record<string, unknown>>) => {
        kept.set(key, values);
        return Promise.resolve();
      },
      delete: (key: string) => {
        kept.delete(key);
        return Promise.resolve();
      },
    },
  } as unknown as HaleSession;
  return { kept, session };
};

afterEach(() => {
  vi.useRealTimers();
});

describe('drafts', () => {
  it('a dropped draft leaves the device at once: a reload right after saving finds none', async () => {
    vi.useFakeTimers();
    const { kept, session } = deviceStore();
    // Typed, and kept on the device after the write delay.
    const typed = saveDraft(session, 'allergies:new', { substance: 'Peanuts', severity: 'severe' });
    await vi.advanceTimersByTimeAsync(300);
    await typed;
    expect(kept.get('allergies:new')).toEqual({ substance: 'Peanuts', severity: 'severe' });
    // Saved: the draft is dropped, and gone from the device without waiting for the delay.
    await dropDraft(session, 'allergies:new');
    expect(kept.has('allergies:new')).toBe(false);
    expect(await loadDraft(session, 'allergies:new')).toBeUndefined();
  });
});
