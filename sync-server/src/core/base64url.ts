/**
 * The server's one strict base64url decoder for untrusted text (pushed ciphertexts, keys, signatures).
 * A refusal is a `ServiceError` BAD_MESSAGE naming the field.
 */
import { ServiceError } from './service-error';

// Node's decoder is ≈6× faster than the portable one but lenient (skips bad characters, ignores trailing
// bits), so the result is accepted only if it encodes back to exactly the text received: the same single
// accepted form as @hale/crypto's strict decoder. Copied out of Node's shared 8 KiB buffer pool: with
// pooled views the 100k-record benchmark's p99 write-to-arrival latency went from ≈22 ms to ≈330 ms.
export function decodeBase64url(text: string, what: string): Uint8Array {
  const pooled = Buffer.from(text, 'base64url');
  if (pooled.toString('base64url') !== text) throw new ServiceError('BAD_MESSAGE', `${what}: not base64url`);
  return new Uint8Array(pooled);
}
