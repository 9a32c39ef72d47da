// The record kinds a patient shares, as consent names them (stream types; the audit log is never shared),
// in the order of the stream types; each named by the glossary (`streamLabel`): the kind's own words.
import type { TFunction } from 'i18next';
import { CONSENTABLE_STREAM_TYPES, STREAM_TYPES, streamSlug, type StreamType } from '@hale/model';

export const SHARED_KINDS: readonly StreamType[] = CONSENTABLE_STREAM_TYPES;

/** A stream type's name: its kind's (`kinds.<slug>.title`), as navigation, sharing and access say it. */
export const streamLabel = (t: TFunction, type: StreamType): string => t(`kinds.${streamSlug(type)}.title`);

/** A stream id (`<patient>/<type>`) or type, as its type; null when it names none. */
export const streamTypeOf = (stream: string | undefined): StreamType | null => {
  const type = stream?.split('/').at(-1);
  return type !== undefined && (STREAM_TYPES as readonly string[]).includes(type)
    ? (type as StreamType)
    : null;
};
