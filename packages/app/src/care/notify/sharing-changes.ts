/**
 * What a clinician is told when a patient changes a grant: the charts whose shared kinds, access or end
 * moved since the last reading (`grantsReceived`). Pure.
 *
 * - A chart first seen, or one whose access ended, is no change (each has its own words elsewhere).
 * - Said once per new state (the key of its streams), so a list read again says nothing.
 */
import type { ReceivedGrant } from '@hale/client';

/** One chart's sharing as a key: each kind with its access and ends. */
export const sharingKey = (g: ReceivedGrant): string =>
  g.streams.map((s) => `${s.type}:${s.access}:${s.expiresAt ?? ''}:${s.readExpiresAt ?? ''}`).join('|');

/**
 * The charts of `grants` in force whose key differs from `before` (patient id → key); `before` is
 * updated to the keys now, ended charts left out.
 */
export const sharingChanged = (
  before: Map<string, string>,
  grants: readonly ReceivedGrant[],
): Array<{ readonly patientId: string; readonly key: string }> => {
  const changed: Array<{ patientId: string; key: string }> = [];
  for (const g of grants) {
    if (g.state === 'ended' || g.streams.length === 0) {
      before.delete(g.patientId);
      continue;
    }
    const key = sharingKey(g);
    const was = before.get(g.patientId);
    if (was !== undefined && was !== key) changed.push({ patientId: g.patientId, key });
    before.set(g.patientId, key);
  }
  return changed;
};
