/**
 * The names a clinician saw its patients under, kept on its device after their records are gone.
 *
 * When a grant ends, the patient's streams (their Profile included) are purged from the clinician's
 * device, yet the clinician's list still shows the chart (its own entries are kept: own-entries.ts). So it
 * never shows a bare id there, the name shown while the grant stood is kept: `remember` when a screen
 * shows a patient's name, `names` answers every kept one.
 *
 * Invariants:
 * - Kept in device meta (key `care-patient-names`, sealed at rest under the account's key): never synced,
 *   never sent to the server.
 * - One name per patient, the last remembered; a remember of the same name writes nothing.
 * - At most MAX_NAMES patients, the least recently remembered dropped first; a name is cut to MAX_NAME_CHARS.
 * Failure modes: after lock or close every call rejects with AccountError LOCKED (`assertUnlocked`);
 * a stored value failing its schema (damaged) reads as no names and is replaced by the next remember.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { DeviceSession } from '../session/session';
import { createDeviceMeta, isDeviceMetaError } from '../store/device-meta';
import { deviceMetaStore } from '../store/meta-store';
import { assertUnlocked } from '../account/account';
import { observedValue, type Observed } from '../core/observed';

/** Patients whose names are kept; past it the least recently remembered goes. */
export const MAX_NAMES = 10_000;
/** Characters of one name kept. */
export const MAX_NAME_CHARS = 200;
const KEY = 'care-patient-names';

const Kept = Type.Record(
  Type.String({ minLength: 1, maxLength: 64 }),
  Type.Object({
    name: Type.String({ minLength: 1, maxLength: MAX_NAME_CHARS }),
    at: Type.String({ maxLength: 40 }),
  }),
);
type Kept = Static<typeof Kept>;

/** The names a provider's device remembers for its patients, for lists and headings. */
export interface PatientNames {
  /** Patient account id → the name last remembered; empty until read (`load`). */
  readonly names: Observed<Readonly<Record<string, string>>>;
  /** Keeps `name` as the one `patientId` was seen under. */
  remember(patientId: string, name: string): Promise<void>;
}

export const createPatientNames = (deps: {
  readonly session: Pick<DeviceSession, 'db' | 'account'>;
  readonly now: () => number;
}): PatientNames & { load(): Promise<void> } => {
  const meta = createDeviceMeta(deviceMetaStore(deps.session.db));
  const names = observedValue<Readonly<Record<string, string>>>({});
  const show = (kept: Kept | null): void =>
    names.set(Object.fromEntries(Object.entries(kept ?? {}).map(([id, e]) => [id, e.name])));
  const locked = (): void => assertUnlocked(deps.session.account);
  return {
    names,
    async load(): Promise<void> {
      locked();
      show(await meta.get(KEY, Kept));
    },
    async remember(patientId: string, name: string): Promise<void> {
      locked();
      const clean = name.trim().slice(0, MAX_NAME_CHARS);
      if (clean === '' || patientId === '' || patientId.length > 64) return;
      if (names.get()[patientId] === clean) return;
      const change = (current: Kept | null): Kept | null => {
        if (current?.[patientId]?.name === clean) return current;
        const next: Kept = { ...(current ?? {}) };
        delete next[patientId];
        next[patientId] = { name: clean, at: new Date(deps.now()).toISOString() };
        const ids = Object.keys(next).sort((a, b) => (next[a]!.at < next[b]!.at ? -1 : 1));
        for (const id of ids.slice(0, Math.max(0, ids.length - MAX_NAMES))) delete next[id];
        return next;
      };
      const kept = await meta.update(KEY, Kept, change).catch(async (e: unknown) => {
        if (!isDeviceMetaError(e, 'META_INVALID')) throw e;
        const fresh = change(null);
        await meta.set(KEY, fresh);
        return fresh;
      });
      show(kept);
    },
  };
};
