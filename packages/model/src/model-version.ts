import { RECORD_KINDS } from './registry';
import { STREAM_TYPES } from './stream-types';

// A device that refused a served record because this build's rules do not accept its content (an
// optional field added by a newer client: the schemas are closed) must read it again once it runs rules
// that may. MODEL_VERSION names the rules, so such a refusal can remember which build made it.

/**
 * Bump whenever a rule the schemas do not express changes what is accepted (validate.ts cross-field
 * rules, formats.ts): the digest below only sees the schemas, the kinds' streams and the stream types.
 * 2: an end date on the same calendar day as a timed start, and text lengths counted in code points.
 * 3: no year 0000, nor an instant outside years 0001–9999 in UTC; required text shows a visible character.
 * 4: Condition's abated status (FHIR con-4) and Procedure's end not before its start.
 */
export const MODEL_RULES_REVISION = 4;

/** 53-bit string hash (cyrb53): an identity for equality, not a security digest. */
const hash53 = (text: string): string => {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
};

/**
 * The identity of a set of record rules: the rules revision and a digest of the kinds (schemas, streams)
 * and stream types. Equal rules give equal identities; a schema that accepts anything more gives another.
 * Two builds whose schemas serialise differently but mean the same only cost one needless re-read.
 */
export const modelVersionOf = (
  kinds: Readonly<Record<string, unknown>>,
  streamTypes: readonly string[],
  rulesRevision: number,
): string => `${rulesRevision}.${hash53(JSON.stringify({ kinds, streamTypes }))}`;

/** The identity of this build's record rules (`validateRecord`, RECORD_KINDS, STREAM_TYPES). */
export const MODEL_VERSION: string = modelVersionOf(RECORD_KINDS, STREAM_TYPES, MODEL_RULES_REVISION);
