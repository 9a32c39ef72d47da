// The record kinds a patient shares, as consent names them (stream types; the audit log is never shared),
// in the navigation's order (streams of kinds without screens last); each named by the glossary
// (`streamLabel`): the kind's own words.
import type { TFunction } from 'i18next';
import {
  CONSENTABLE_STREAM_TYPES,
  KIND_DESCRIPTIONS,
  SCREEN_KINDS,
  STREAM_TYPES,
  streamSlug,
  type StreamType,
} from '@hale/model';

/** Where a stream's kinds first stand in the navigation; after them all when none has screens. */
const navPlace = (type: StreamType): number => {
  const at = SCREEN_KINDS.findIndex((kind) => KIND_DESCRIPTIONS[kind].streamType === type);
  return at < 0 ? SCREEN_KINDS.length : at;
};

export const SHARED_KINDS: readonly StreamType[] = [...CONSENTABLE_STREAM_TYPES].sort(
  (a, b) => navPlace(a) - navPlace(b),
);

/** A stream type's name: its kind's (`kinds.<slug>.title`), as navigation, sharing and access say it. */
export const streamLabel = (t: TFunction, type: StreamType): string => t(`kinds.${streamSlug(type)}.title`);

/** A stream id (`<patient>/<type>`) or type, as its type; null when it names none. */
export const streamTypeOf = (stream: string | undefined): StreamType | null => {
  const type = stream?.split('/').at(-1);
  return type !== undefined && (STREAM_TYPES as readonly string[]).includes(type)
    ? (type as StreamType)
    : null;
};
