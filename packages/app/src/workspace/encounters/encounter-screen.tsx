/**
 * An encounter (`…/chart/encounters/:id`): its details and status (finish it when the visit ends), its
 * notes (begin one), the results entered during it (enter one), the patient's plans, and the visit summary
 * to print for the patient. Everything is read live from this device's copy of the chart.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, SimpleGrid, Stack, Text } from '@mantine/core';
import { IconCheck, IconFlask, IconNotes, IconPrinter, IconClipboardHeart } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import type { RecordOf } from '@hale/client';
import { useHaleSession, useRecord, useRecords } from '@hale/react';
import { formatDate } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { dayjs } from '../../boot/dayjs';
import { usePatientChart } from '../patients/chart-context';
import { canRead, canWrite, chartBase } from '../patients/grant';
import { Card, errorText, Field } from '../ui';
import { clinicianName, useClinicianNames } from '../people';
import { resultsDuring } from '../summary/visit-content';

export function EncounterScreen(): ReactNode {
  const { id } = useParams();
  return id === undefined ? null : <Loader key={id} id={id} />;
}

function Loader(props: { readonly id: string }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord<'Encounter'>(props.id);
  if (stored === null) return <Text>{t('records.notFound')}</Text>;
  return <Body encounter={stored.record} />;
}

function Body(props: { readonly encounter: RecordOf<'Encounter'> }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const { encounter: e } = props;
  useClinicianNames([e.clinicianId]);
  const { patientId, chart } = usePatientChart();
  const grant = chart?.grant;
  const base = chartBase(patientId);
  const notes = useRecords('MedicalNote', { patientId }).items.filter((n) => n.record.encounterId === e.id);
  const labs = resultsDuring(useRecords('LabResult', { patientId }).items, e);
  const plans = useRecords('TreatmentPlan', { patientId }).items.filter(
    (p) => p.record.status !== 'completed',
  );
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const finish = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await session.records.update('Encounter', e.id, {
        status: 'finished',
        endedAt: dayjs().format('YYYY-MM-DDTHH:mm:ssZ'),
      });
    } catch (err) {
      setError(errorText(t, err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack maw={1100}>
      <PageHeader
        title={e.reason ?? t('kinds.encounters.one')}
        back={`${base}/encounters`}
        actions={
          <>
            <Button
              component={Link}
              to={`${base}/encounters/${e.id}/summary`}
              variant="default"
              leftSection={<IconPrinter size={18} />}
            >
              {t('workspace.summary.open')}
            </Button>
            {canWrite(grant, 'Encounter') && e.status === 'in-progress' && (
              <Button leftSection={<IconCheck size={18} />} loading={busy} onClick={() => void finish()}>
                {t('workspace.encounter.finish')}
              </Button>
            )}
          </>
        }
      />
      {error !== null && (
        <Alert color="red" role="alert" title={t('records.notDone')}>
          {error}
        </Alert>
      )}
      <Card title={t('workspace.encounter.details')}>
        <Group gap="xs">
          <Badge data-testid="encounter-status">{t(`enum.encounterStatus.${e.status}`)}</Badge>
          <Badge variant="light" color="gray">
            {t(`enum.encounterType.${e.type}`)}
          </Badge>
        </Group>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Field label={t('fields.startedAt')}>{formatDate(e.startedAt)}</Field>
          <Field label={t('fields.endedAt')}>{e.endedAt === undefined ? '' : formatDate(e.endedAt)}</Field>
          <Field label={t('fields.encounterNumber')}>{e.encounterNumber}</Field>
          <Field label={t('fields.department')}>{e.department ?? ''}</Field>
          <Field label={t('fields.location')}>{e.location ?? ''}</Field>
          <Field label={t('fields.clinicianId')}>
            {e.clinicianId === undefined ? '' : clinicianName(t, e.clinicianId, me)}
          </Field>
        </SimpleGrid>
      </Card>
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        {canRead(grant, 'MedicalNote') && (
          <Card
            title={t('kinds.notes.title')}
            actions={
              canWrite(grant, 'MedicalNote') ? (
                <Button
                  size="xs"
                  variant="light"
                  component={Link}
                  to={`${base}/notes/new?encounter=${e.id}`}
                  leftSection={<IconNotes size={16} />}
                >
                  {t('workspace.actions.note')}
                </Button>
              ) : undefined
            }
          >
            {notes.length === 0 && (
              <Text size="sm" c="dimmed">
                {t('workspace.encounter.noNotes')}
              </Text>
            )}
            {notes.map(({ record: n }) => (
              <Link
                key={n.id}
                to={`${base}/notes/${n.id}`}
                className="hale-row-link"
                style={{ borderRadius: 8 }}
              >
                <Group justify="space-between" px={6} py={6} wrap="nowrap">
                  <Text component="span" display="block" size="sm" fw={600} truncate>
                    {n.title}
                  </Text>
                  <Badge variant="light">{t(`workspace.noteStatus.${n.status}`)}</Badge>
                </Group>
              </Link>
            ))}
          </Card>
        )}
        {canRead(grant, 'LabResult') && (
          <Card
            title={t('workspace.encounter.results')}
            actions={
              canWrite(grant, 'LabResult') ? (
                <Button
                  size="xs"
                  variant="light"
                  component={Link}
                  to={`${base}/labs/new`}
                  leftSection={<IconFlask size={16} />}
                >
                  {t('workspace.actions.lab')}
                </Button>
              ) : undefined
            }
          >
            {labs.length === 0 && (
              <Text size="sm" c="dimmed">
                {t('workspace.encounter.noResults')}
              </Text>
            )}
            {labs.map((l) => (
              <Link
                key={l.id}
                to={`${base}/labs/${l.id}`}
                className="hale-row-link"
                style={{ borderRadius: 8 }}
              >
                <Group justify="space-between" px={6} py={6} wrap="nowrap">
                  <Text component="span" display="block" size="sm" fw={600} truncate>
                    {l.testName}
                  </Text>
                  <Text size="sm">{`${l.value === undefined ? '' : String(l.value)} ${l.units ?? ''}`}</Text>
                </Group>
              </Link>
            ))}
          </Card>
        )}
        {canRead(grant, 'TreatmentPlan') && (
          <Card
            title={t('kinds.plans.title')}
            actions={
              canWrite(grant, 'TreatmentPlan') ? (
                <Button
                  size="xs"
                  variant="light"
                  component={Link}
                  to={`${base}/plans/new`}
                  leftSection={<IconClipboardHeart size={16} />}
                >
                  {t('workspace.actions.plan')}
                </Button>
              ) : undefined
            }
          >
            {plans.length === 0 && (
              <Text size="sm" c="dimmed">
                {t('kinds.plans.empty')}
              </Text>
            )}
            {plans.map(({ record: p }) => (
              <Link
                key={p.id}
                to={`${base}/plans/${p.id}`}
                className="hale-row-link"
                style={{ borderRadius: 8 }}
              >
                <Group justify="space-between" px={6} py={6} wrap="nowrap">
                  <Text component="span" display="block" size="sm" fw={600} truncate>
                    {p.summary}
                  </Text>
                  <Badge variant="light">{t(`enum.planStatus.${p.status}`)}</Badge>
                </Group>
              </Link>
            ))}
          </Card>
        )}
      </SimpleGrid>
    </Stack>
  );
}
