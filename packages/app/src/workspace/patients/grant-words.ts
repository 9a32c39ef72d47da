// How a grant reads: each stream type by name, read or read-and-write, until when, why it ended.
import type { TFunction } from 'i18next';
import type { EndedStream, ReceivedGrant } from '@hale/client';
import { formatDate } from '../../records/format';
import { streamLabel as glossaryLabel, streamTypeOf } from '../../care/streams';

export const END_REASONS = ['expired', 'revoked', 'device-revoked'] as const;
export const CHART_STATES = ['active', 'expiring', 'ended'] as const;

/** A stream type by name (the glossary's: `kinds.<slug>.title`), or as written when it names none. */
export const streamLabel = (t: TFunction, type: string): string => {
  const known = streamTypeOf(type);
  return known === null ? type : glossaryLabel(t, known);
};

export const accessLabel = (t: TFunction, access: 'read' | 'write'): string =>
  t(access === 'write' ? 'workspace.access.write' : 'workspace.access.read');

export const untilLabel = (t: TFunction, at: string | null): string =>
  at === null ? t('workspace.access.noEnd') : t('workspace.access.until', { when: formatDate(at) });

export const endReasonLabel = (t: TFunction, reason: EndedStream['reason']): string =>
  t(`workspace.endReason.${reason}`);

export const stateColor = (state: ReceivedGrant['state']): string =>
  state === 'active' ? 'teal' : state === 'expiring' ? 'orange' : 'gray';

/** How many of the patient's records left this device when access ended (null: not told). */
export const purgedCount = (grant: ReceivedGrant | undefined): number | null => {
  if (grant === undefined || grant.ended.length === 0) return null;
  const counts = grant.ended.map((e) => e.purged);
  return counts.every((c) => c === null) ? null : counts.reduce<number>((sum, c) => sum + (c ?? 0), 0);
};
