/**
 * The visit summary for the patient (`…/chart/encounters/:id/summary`): the encounter, its signed note, the
 * results new at this visit and the active plan, on one or two printed pages (app.css print rules and the
 * `hale-visit-summary` rules below hide the app's frame and tighten the type). Made on this device from
 * the records the patient shared; drafts are left out.
 */
import type { ReactNode } from 'react';
import { Button, Divider, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { IconPrinter } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router';
import type { RecordOf } from '@hale/client';
import { useHaleSession, useRecord, useRecords } from '@hale/react';
import { formatDate } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { usePatientChart } from '../patients/chart-context';
import { chartBase } from '../patients/grant';
import { usePatientBirthDate } from '../patients/patient-name';
import { readMyProfile } from '../profile/my-profile';
import { NoteSoap } from '../notes/note-soap';
import { activePlans, resultsDuring, signedNotesOf } from './visit-content';
import { SummaryPart as Part } from './summary-part';
import './visit-summary.css';

export function VisitSummaryScreen(): ReactNode {
  const { id } = useParams();
  return id === undefined ? null : <Loader key={id} id={id} />;
}

function Loader(props: { readonly id: string }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord<'Encounter'>(props.id);
  if (stored === null) return <Text>{t('records.notFound')}</Text>;
  return <Summary encounter={stored.record} />;
}

function Summary(props: { readonly encounter: RecordOf<'Encounter'> }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const { encounter: e } = props;
  const { patientId, name } = usePatientChart();
  const birthDate = usePatientBirthDate(patientId);
  const notes = useRecords('MedicalNote', { patientId }).items.map((n) => n.record);
  const versions = useRecords('NoteVersion', { patientId }).items.map((v) => v.record);
  const labs = resultsDuring(useRecords('LabResult', { patientId }).items, e);
  const plans = activePlans(useRecords('TreatmentPlan', { patientId }).items.map((p) => p.record));
  const signed = signedNotesOf(e.id, notes, versions);
  const me = readMyProfile(session.account.accountId);
  return (
    <Stack maw={900}>
      <PageHeader
        title={t('workspace.summary.title')}
        back={`${chartBase(patientId)}/encounters/${e.id}`}
        actions={
          <Button leftSection={<IconPrinter size={18} />} onClick={() => window.print()}>
            {t('workspace.summary.print')}
          </Button>
        }
      />
      <Text size="sm" c="dimmed" className="hale-no-print">
        {t('workspace.summary.explain')}
      </Text>
      <Paper withBorder p="lg" className="hale-visit-summary" data-testid="visit-summary">
        <Stack gap="md">
          <Group justify="space-between" align="flex-start" wrap="wrap">
            <div>
              <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
                {t('workspace.summary.heading')}
              </Text>
              <Title order={2} size="h3">
                {name}
              </Title>
              {birthDate !== undefined && (
                <Text size="sm">{t('workspace.chart.born', { date: formatDate(birthDate) })}</Text>
              )}
            </div>
            <Stack gap={0} align="flex-end">
              <Text size="sm" fw={600}>
                {me?.displayName ?? t('workspace.summary.yourClinician')}
              </Text>
              {me !== null && (
                <Text size="sm">{[me.specialty, me.clinic].filter((x) => x !== '').join(' · ')}</Text>
              )}
            </Stack>
          </Group>
          <Divider />
          <Part title={t('workspace.summary.visit')}>
            <SimpleGrid cols={{ base: 2, sm: 4 }} spacing="xs">
              <Line label={t('fields.startedAt')} value={formatDate(e.startedAt)} />
              <Line label={t('fields.type')} value={t(`enum.encounterType.${e.type}`)} />
              <Line label={t('fields.reason')} value={e.reason} />
              <Line label={t('fields.department')} value={e.department ?? e.location} />
            </SimpleGrid>
          </Part>
          <Part title={t('workspace.summary.note')} testId="summary-note">
            {signed.length === 0 && <Text size="sm">{t('workspace.summary.noSignedNote')}</Text>}
            {signed.map(({ note, body }) => (
              <Stack key={note.id} gap={4}>
                <Text size="sm" fw={600}>
                  {note.title} ·{' '}
                  {t('workspace.summary.signedVersion', {
                    n: note.currentVersionNumber,
                    when: formatDate(note.updatedAt),
                  })}
                </Text>
                <NoteSoap body={body} />
              </Stack>
            ))}
          </Part>
          <Part title={t('workspace.summary.results')} testId="summary-results">
            {labs.length === 0 ? (
              <Text size="sm">{t('workspace.summary.noResults')}</Text>
            ) : (
              <Table withTableBorder verticalSpacing={4} fz="sm">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('fields.testName')}</Table.Th>
                    <Table.Th>{t('fields.value')}</Table.Th>
                    <Table.Th>{t('fields.referenceRange')}</Table.Th>
                    <Table.Th>{t('fields.status')}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {labs.map((l) => (
                    <Table.Tr key={l.id}>
                      <Table.Td>{l.testName}</Table.Td>
                      <Table.Td>{`${l.value === undefined ? '—' : String(l.value)} ${l.units ?? ''}`}</Table.Td>
                      <Table.Td>{l.referenceRange ?? '—'}</Table.Td>
                      <Table.Td>{t(`enum.labStatus.${l.status}`)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Part>
          <Part title={t('workspace.summary.plan')} testId="summary-plan">
            {plans.length === 0 && <Text size="sm">{t('workspace.summary.noPlan')}</Text>}
            {plans.map((p) => (
              <Stack key={p.id} gap={2}>
                <Text size="sm" fw={600}>
                  {p.summary} · {t('workspace.plan.versionN', { n: p.version })}
                </Text>
                {(p.effectiveFrom !== undefined || p.effectiveTo !== undefined) && (
                  <Text size="sm">
                    {t('workspace.summary.planWindow', {
                      from: p.effectiveFrom === undefined ? '—' : formatDate(p.effectiveFrom),
                      to: p.effectiveTo === undefined ? '—' : formatDate(p.effectiveTo),
                    })}
                  </Text>
                )}
                {p.details !== undefined && (
                  <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                    {p.details}
                  </Text>
                )}
              </Stack>
            ))}
          </Part>
          <Divider />
          <Text size="xs" c="dimmed">
            {t('workspace.summary.footer', { when: formatDate(new Date().toISOString()) })}
          </Text>
        </Stack>
      </Paper>
    </Stack>
  );
}

function Line(props: { readonly label: string; readonly value: string | undefined }): ReactNode {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {props.label}
      </Text>
      <Text size="sm" fw={600}>
        {props.value === undefined || props.value === '' ? '—' : props.value}
      </Text>
    </div>
  );
}
