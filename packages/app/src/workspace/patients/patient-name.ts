/**
 * A patient's name as the workspace shows it: the full name of the patient's Profile when the grant
 * shares the profile stream, else "Patient" and a short form of the account id. Nothing of it is kept
 * beyond the records it is read from: once access ends, only the short id is left.
 */
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useRecords } from '@hale/react';
import { shortId } from '../../records/format';

export const unnamed = (t: TFunction, patientId: string): string =>
  t('workspace.patient.unnamed', { id: shortId(patientId) });

export function usePatientName(patientId: string): string {
  const { t } = useTranslation();
  const profiles = useRecords('Profile', { patientId, limit: 5 });
  const profile =
    profiles.items.find((p) => p.record.status === 'active')?.record ?? profiles.items[0]?.record;
  return profile?.fullName ?? unnamed(t, patientId);
}

/** The Profile's birth date, when shared. */
export function usePatientBirthDate(patientId: string): string | undefined {
  const profiles = useRecords('Profile', { patientId, limit: 5 });
  return profiles.items[0]?.record.birthDate;
}
