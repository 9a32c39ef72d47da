/**
 * A scheduled medication's doses beside its detail, for the patient and for a clinician who holds
 * Medications: how the last 7 days' schedule was kept (doses.ts `adherenceOf`) and the latest marks.
 */
import type { ReactNode } from 'react';
import { Anchor, Badge, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useRecords } from '@hale/react';
import { patientQuery, useChartScope } from './chart-scope';
import { adherenceOf } from './doses';
import { formatDate, formatTimeOfDay } from './format';

const LATEST = 10;

export function DoseAdherence(props: { readonly medicationId: string }): ReactNode {
  const { t } = useTranslation();
  const scope = useChartScope();
  const m = useRecords('Medication', { ...patientQuery(scope), ids: [props.medicationId] }).items[0]?.record;
  const page = useRecords('MedicationDose', { ...patientQuery(scope), sort: 'clinical' });
  const doses = page.items.map((r) => r.record).filter((d) => d.medicationId === props.medicationId);
  if (m?.schedule === undefined || page.loading === true) return null;
  const times = m.schedule.times ?? [];
  const kept = adherenceOf(m, doses, Date.now(), 7);
  return (
    <Paper withBorder p="md" data-testid="dose-adherence">
      <Stack gap="xs">
        <Title order={2} size="h4">
          {t('kinds.medication-doses.title')}
        </Title>
        <Text size="sm">
          {m.schedule.asNeeded === true
            ? t('medicines.scheduleAsNeeded')
            : t('medicines.schedule', { times: times.map(formatTimeOfDay).join(', ') })}
          {m.schedule.food === undefined ? '' : ` · ${t(`enum.medicationFood.${m.schedule.food}`)}`}
        </Text>
        {m.schedule.asNeeded !== true && (
          <Text size="sm" fw={600} data-testid="adherence-line">
            {kept.due === 0
              ? t('medicines.adherenceNone')
              : t('medicines.adherence', { taken: kept.taken, due: kept.due, skipped: kept.skipped })}
          </Text>
        )}
        {doses.length > 0 && (
          <Stack component="ul" gap={4} m={0} p={0} style={{ listStyle: 'none' }}>
            {doses.slice(0, LATEST).map((d) => (
              <Group component="li" key={d.id} gap="xs" data-testid="dose-row">
                <Badge variant="light" color={d.status === 'taken' ? 'green' : 'gray'}>
                  {t(`medicines.today.${d.status}`)}
                </Badge>
                <Text size="sm">{formatDate(d.at)}</Text>
                {d.slot !== undefined && (
                  <Text size="sm" c="dimmed">
                    {t('medicines.dueAt', { time: formatTimeOfDay(d.slot.slice(11)) })}
                  </Text>
                )}
              </Group>
            ))}
          </Stack>
        )}
        {scope.patientId === undefined && (
          <Anchor component={Link} to="/medicines/today" size="sm">
            {t('nav.medicinesToday')}
          </Anchor>
        )}
      </Stack>
    </Paper>
  );
}
