// The record kinds a patient shares, as consent names them (stream types; the audit log is never shared),
// in the order the chart lists them; each labelled `care.streams.<type>`.
import { STREAM_TYPES, type StreamType } from '@hale/model';

export const SHARED_KINDS: readonly StreamType[] = STREAM_TYPES.filter((s) => s !== 'audit');

/** A stream id (`<patient>/<type>`) or type, as its type; null when it names none. */
export const streamTypeOf = (stream: string | undefined): StreamType | null => {
  const type = stream?.split('/').at(-1);
  return type !== undefined && (STREAM_TYPES as readonly string[]).includes(type)
    ? (type as StreamType)
    : null;
};
