/**
 * What the device session keeps in device metadata (store/device-meta.ts), by schema: registered as the
 * module `session` (core/stored-state.ts).
 */
import { Type } from '@sinclair/typebox';
import { storedState } from '../core/stored-state';

export const SESSION_STATE = storedState('session', {
  signedIn: Type.Boolean(),
});
