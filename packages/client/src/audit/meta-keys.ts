/**
 * Names of the per-patient device meta keys (`audit-chain:`, `audit-seen:`, `audit-kept:`).
 *
 * - A name is `<kind>:` + HMAC-SHA256(patient id) under HKDF(at-rest key, NAMES_LABEL): the same on every
 *   start, and no key names a patient (device meta keys are stored in clear).
 */
import { base64urlEncode, hkdfSha256, hmacSha256, utf8Encode } from '@hale/crypto';
import { CHAIN, KEPT, SEEN, type PerPatient } from './stored';

/** HKDF info of the key of those digests (hash.ts: one label per purpose). */
const NAMES_LABEL = 'hale/meta-names/v1';
const namesKeyOf = (localKey: Uint8Array): Uint8Array => hkdfSha256(localKey, NAMES_LABEL);
const nameWith = (namesKey: Uint8Array, kind: PerPatient, patientId: string): string =>
  `${kind}:${base64urlEncode(hmacSha256(namesKey, utf8Encode(patientId)))}`;

/** The device meta key of `kind` for `patientId` on a device whose at-rest key is `localKey`. */
export const patientKeyName = (localKey: Uint8Array, kind: PerPatient, patientId: string): string =>
  nameWith(namesKeyOf(localKey), kind, patientId);

export interface MetaNames {
  readonly namesKey: Uint8Array;
}

export const createMetaNames = (localKey: Uint8Array): MetaNames => ({ namesKey: namesKeyOf(localKey) });

interface Core {
  readonly names: MetaNames;
}

export const nameOf = (core: Core, kind: PerPatient, patientId: string): string =>
  nameWith(core.names.namesKey, kind, patientId);

export const chainKey = (core: Core, patientId: string): string => nameOf(core, CHAIN, patientId);
export const seenKey = (core: Core, patientId: string): string => nameOf(core, SEEN, patientId);
export const keptKey = (core: Core, patientId: string): string => nameOf(core, KEPT, patientId);
