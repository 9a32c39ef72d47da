/**
 * What the session's top layer keeps in device metadata (store/device-meta.ts), by schema: registered as
 * the module `hale` (core/stored-state.ts).
 */
import { Type } from '@sinclair/typebox';
import { MAX_AUDIT_SUMMARY } from '@hale/protocol';
import { storedState } from '../core/stored-state';

export const HALE_STATE = storedState('hale', {
  /** Per patient, the name this device last appended to that patient's log, and the entry's id. */
  deviceNamed: Type.Array(
    Type.Object({
      patientId: Type.String({ minLength: 1, maxLength: 128 }),
      name: Type.String({ minLength: 1, maxLength: MAX_AUDIT_SUMMARY }),
      entryId: Type.String({ minLength: 1, maxLength: 128 }),
    }),
    { maxItems: 100_000 },
  ),
});
