/**
 * The keyring's envelope requests: publishing envelopes in frames the protocol takes, and the slices a
 * full refresh asks for.
 *
 * Invariants:
 * - A `putEnvelopes` frame names at most MAX_STREAMS_PER_REQUEST envelopes (a frame over it is refused whole).
 * - A refresh slice holds at most ENVELOPE_STREAMS_PER_REQUEST streams and ENVELOPES_PER_REQUEST expected
 *   envelopes, so its answer stays under half of MAX_FRAME_BYTES; an answer refused as a whole for its
 *   size (`splittable`) is asked for again in smaller parts.
 */
import { MAX_STREAMS_PER_REQUEST, batchByLimits, type KeyEnvelope } from '@hale/protocol';
import type { Connection } from './connection';

/**
 * Sends `envelopes` in order, in `putEnvelopes` frames the protocol takes (MAX_STREAMS_PER_REQUEST each: a
 * stream has one per epoch, and a frame over the bound is refused whole); rejects with the first refusal.
 */
export const putEnvelopes = async (
  connection: Pick<Connection, 'request'>,
  envelopes: readonly KeyEnvelope[],
): Promise<void> => {
  for (let i = 0; i < envelopes.length; i += MAX_STREAMS_PER_REQUEST) {
    await connection.request({
      t: 'putEnvelopes',
      envelopes: envelopes.slice(i, i + MAX_STREAMS_PER_REQUEST),
    });
  }
};

/**
 * Most streams one request of a full refresh names (keyring.ts, header). An envelope is about 480 bytes of
 * JSON and at most ENVELOPE_MAX_BYTES; a slice of streams at epoch 0 or 1 is answered in about 0.5 MiB.
 */
export const ENVELOPE_STREAMS_PER_REQUEST = 500;
/**
 * Most envelopes a full refresh plans one request to be answered with: at their largest possible size
 * (ENVELOPE_MAX_BYTES each) they stay under half of MAX_FRAME_BYTES (keyring.test.ts), so a server that
 * holds somewhat more than the epochs it reported (a rotation since) still answers within the frame.
 */
export const ENVELOPES_PER_REQUEST = 5000;
/**
 * Upper bound on one envelope's JSON in an `envelopes` frame (every field at its schema's longest, and
 * the comma between elements); keyring.test.ts checks it against the schema.
 */
export const ENVELOPE_MAX_BYTES = 800;

/**
 * Streams cut into the slices of a full refresh: in order, at most ENVELOPE_STREAMS_PER_REQUEST streams
 * and ENVELOPES_PER_REQUEST expected envelopes each (`envelopes`: at most how many one stream holds; a
 * stream expected to hold more goes alone).
 */
export const sliceStreams = (streams: ReadonlyArray<{ stream: string; envelopes: number }>): string[][] =>
  batchByLimits(streams, (s) => s.envelopes, ENVELOPE_STREAMS_PER_REQUEST, ENVELOPES_PER_REQUEST).map(
    (slice) => slice.map((s) => s.stream),
  );

/** Codes of an answer refused as a whole for what it carries: asked for again in smaller parts. */
export const SPLITTABLE = new Set(['TOO_LARGE', 'BAD_MESSAGE']);
export const splittable = (error: unknown): boolean =>
  error instanceof Error && 'code' in error && typeof error.code === 'string' && SPLITTABLE.has(error.code);
