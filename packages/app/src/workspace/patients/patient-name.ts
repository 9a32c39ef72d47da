/**
 * A patient's name as the workspace shows it: the full name of the patient's Profile when the grant
 * shares the profile stream, else "Patient" and a short form of the account id.
 *
 * | when | shown |
 * |---|---|
 * | the profile is shared and held | its full name (kept: `care.patientNames.remember`) |
 * | access ended, the profile purged | the name kept while the grant stood, across locks and restarts |
 * | no name was ever shown | "A patient whose access ended" (ended) or "Patient" and the short id |
 *
 * Invariants: a kept name lives on this device only, sealed in its metadata (client care/patient-names.ts);
 * nothing else of the patient's records is kept once access ends.
 */
import { useEffect } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useHaleSession, useObserved, useRecords } from '@hale/react';
import { shortId } from '../../records/format';

export const unnamed = (t: TFunction, patientId: string): string =>
  t('workspace.patient.unnamed', { id: shortId(patientId) });

export function usePatientName(patientId: string, options: { readonly ended?: boolean } = {}): string {
  const { t } = useTranslation();
  const session = useHaleSession();
  const profiles = useRecords('Profile', { patientId, limit: 5 });
  const profile =
    profiles.items.find((p) => p.record.status === 'active')?.record ?? profiles.items[0]?.record;
  const kept = useObserved(session.care.patientNames.names);
  const full = profile?.fullName;
  const shown = full !== undefined && full !== '' ? full : undefined;
  useEffect(() => {
    if (shown !== undefined) void session.care.patientNames.remember(patientId, shown).catch(() => undefined);
  }, [session, patientId, shown]);
  if (shown !== undefined) return shown;
  return (
    kept[patientId] ??
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
