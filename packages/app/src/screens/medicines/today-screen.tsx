/**
 * Today's medicines (`/medicines/today`): each scheduled dose of the day at its time, marked Taken or
 * Skipped here (a MedicationDose in the medication stream, synced like the rest; a mark made offline goes
 * out when the server can be reached); medicines taken as needed, with "Took a dose" and today's doses.
 *
 * Invariants:
 * - A mark is one record per slot from this device; marking again changes it (the last mark stands).
 * - Times are this device's wall clock (doses.ts): the list follows the person across zones.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Anchor, Badge, Button, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { RecordOf } from '@hale/client';
import { DOSE_STATUSES } from '@hale/model';
import { useHaleSession, useRecords } from '@hale/react';
import { addRecord, updateRecord } from '../../records/write';
import { formatDate, formatTime, formatTimeOfDay } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { ErrorAlert, errorText } from '../../workspace/ui';
import { asNeeded, localDay, slotsOn, type Slot } from '../../records/doses';

type Medication = RecordOf<'Medication'>;
type Dose = RecordOf<'MedicationDose'>;

/** Now, moved on each minute (the day turns over on an open screen). */
const useMinute = (): number => {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(timer);
  }, []);
  return now;
};

export function TodayMedicinesScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const now = useMinute();
  const day = localDay(now);
  const medications = useRecords('Medication').items.map((r) => r.record);
  const dosePage = useRecords('MedicationDose', { sort: 'clinical' });
  const doses = dosePage.items.map((r) => r.record);
  const slots = slotsOn(day, medications, doses);
  const whenNeeded = asNeeded(medications);
  const [error, setError] = useState<string | null>(null);

  const markSlot = async (s: Slot, status: Dose['status']): Promise<void> => {
    setError(null);
    try {
      const at = new Date().toISOString();
      if (s.mark !== undefined) await updateRecord(session, 'MedicationDose', s.mark.id, { status, at });
      else
        await addRecord(session, 'MedicationDose', {
          medicationId: s.medication.id,
          medicationName: s.medication.name,
          slot: s.slot,
          status,
          at,
        });
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  const tookOne = async (m: Medication): Promise<void> => {
    setError(null);
    try {
      await addRecord(session, 'MedicationDose', {
        medicationId: m.id,
        medicationName: m.name,
        status: 'taken',
        at: new Date().toISOString(),
      });
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  return (
    <Stack maw={880}>
      <PageHeader title={t('medicines.today.title')} back="/chart/medications" />
      <Text size="sm" c="dimmed">
        {t('medicines.today.intro', { date: formatDate(day) })}
      </Text>
      <Text size="sm" c="dimmed" data-testid="medicines-reminders">
        {t('medicines.today.reminders')}
      </Text>
      <ErrorAlert title={t('medicines.today.notSaved')} error={error} />
      {dosePage.loading === true ? null : slots.length === 0 && whenNeeded.length === 0 ? (
        <Paper withBorder p="md" data-testid="medicines-none">
          <Text size="sm">{t('medicines.today.none')}</Text>
          <Anchor component={Link} to="/chart/medications" size="sm">
            {t('medicines.today.toMedications')}
          </Anchor>
        </Paper>
      ) : null}
      {slots.length > 0 && (
        <Stack
          component="ol"
          gap="xs"
          m={0}
          p={0}
          style={{ listStyle: 'none' }}
          aria-label={t('medicines.today.scheduled')}
        >
          {slots.map((s) => (
            <SlotRow
              key={`${s.medication.id}|${s.slot}`}
              slot={s}
              onMark={(status) => void markSlot(s, status)}
            />
          ))}
        </Stack>
      )}
      {whenNeeded.length > 0 && (
        <>
          <Title order={2} size="h4">
            {t('medicines.today.asNeeded')}
          </Title>
          <Stack component="ul" gap="xs" m={0} p={0} style={{ listStyle: 'none' }}>
            {whenNeeded.map((m) => {
              const taken = doses.filter(
                (d) => d.medicationId === m.id && d.slot === undefined && localDay(Date.parse(d.at)) === day,
              );
              return (
                <Paper component="li" withBorder p="sm" key={m.id} data-testid="as-needed">
                  <Group justify="space-between" wrap="wrap" gap="xs">
                    <div>
                      <Text fw={600}>{m.name}</Text>
                      <Text size="sm" c="dimmed">
                        {taken.length === 0
                          ? t('medicines.today.noneToday')
                          : t('medicines.today.takenAt', {
                              times: taken.map((d) => formatTime(d.at)).join(', '),
                            })}
                      </Text>
                    </div>
                    <Button variant="light" onClick={() => void tookOne(m)}>
                      {t('medicines.today.tookOne', { name: m.name })}
                    </Button>
                  </Group>
                </Paper>
              );
            })}
          </Stack>
        </>
      )}
    </Stack>
  );
}

function SlotRow(props: {
  readonly slot: Slot;
  readonly onMark: (status: Dose['status']) => void;
}): ReactNode {
  const { t } = useTranslation();
  const { slot: s } = props;
  const m = s.medication;
  const status = s.mark?.status;
  const what = [
    m.dose,
    m.schedule?.food === undefined ? undefined : t(`enum.medicationFood.${m.schedule.food}`),
  ]
    .filter((x): x is string => x !== undefined && x !== '')
    .join(' · ');
  return (
    <Paper component="li" withBorder p="sm" data-testid="dose-slot" data-status={status ?? 'open'}>
      <Group justify="space-between" wrap="wrap" gap="xs">
        <Group gap="sm" wrap="nowrap" align="flex-start">
          <Text fw={700} miw={52}>
            {formatTimeOfDay(s.time)}
          </Text>
          <div>
            <Text fw={600}>{m.name}</Text>
            {what !== '' && (
              <Text size="sm" c="dimmed">
                {what}
              </Text>
            )}
            {s.mark !== undefined && (
              <Badge variant="light" color={status === 'taken' ? 'green' : 'gray'} data-testid="dose-mark">
                {t(`medicines.today.marked.${s.mark.status}`, { time: formatTime(s.mark.at) })}
              </Badge>
            )}
          </div>
        </Group>
        <Group gap="xs">
          {DOSE_STATUSES.map((choice) => (
            <Button
              key={choice}
              size="sm"
              variant={status === choice ? 'filled' : 'light'}
              aria-pressed={status === choice}
              aria-label={t(`medicines.today.mark.${choice}`, {
                name: m.name,
                time: formatTimeOfDay(s.time),
              })}
              onClick={() => props.onMark(choice)}
            >
              {t(`medicines.today.${choice}`)}
            </Button>
          ))}
        </Group>
      </Group>
    </Paper>
  );
}
