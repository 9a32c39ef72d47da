/**
 * A patient's name as the workspace shows it: the full name of the patient's Profile when the grant
 * shares the profile stream, else "Patient" and a short form of the account id.
 *
 * | when | shown |
 * |---|---|
 * | the profile is shared and held | its full name (and remembered for the session) |
 * | access ended in this session, the profile purged | the name as it was while the grant stood |
 * | access ended before this session (nothing kept) | "A patient whose access ended" and the short id |
 *
 * Invariants: a remembered name lives in memory only, per open session (gone with the lock): nothing of the
 * patient's records is written to this device once access ends.
 */
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { HaleSession } from '@hale/client';
import { useHaleSession, useRecords } from '@hale/react';
import { shortId } from '../../records/format';

const seen = new WeakMap<HaleSession, Map<string, string>>();

const namesOf = (session: HaleSession): Map<string, string> => {
  let names = seen.get(session);
  if (names === undefined) {
    names = new Map();
    seen.set(session, names);
  }
  return names;
};

export const unnamed = (t: TFunction, patientId: string): string =>
  t('workspace.patient.unnamed', { id: shortId(patientId) });

export function usePatientName(patientId: string, options: { readonly ended?: boolean } = {}): string {
  const { t } = useTranslation();
  const session = useHaleSession();
  const profiles = useRecords('Profile', { patientId, limit: 5 });
  const profile =
    profiles.items.find((p) => p.record.status === 'active')?.record ?? profiles.items[0]?.record;
  const names = namesOf(session);
  const full = profile?.fullName;
  if (full !== undefined && full !== '') {
    names.set(patientId, full);
    return full;
  }
  return (
    names.get(patientId) ??
    (options.ended === true
      ? t('workspace.patient.endedUnnamed', { id: shortId(patientId) })
      : unnamed(t, patientId))
  );
}

/** The Profile's birth date, when shared. */
export function usePatientBirthDate(patientId: string): string | undefined {
  const profiles = useRecords('Profile', { patientId, limit: 5 });
  return profiles.items[0]?.record.birthDate;
}
