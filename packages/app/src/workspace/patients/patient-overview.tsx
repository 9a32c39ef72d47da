/**
 * A chart's overview (`/workspace/patients/:patientId`): what the grant allows, kind by kind, and until
 * when; what this clinician can start here (an encounter, a note, a lab result, a plan) where it may
 * write; the latest encounters, results (with their values and High/Low marks) and plans, live as the
 * patient's devices sync. A chart whose
 * access ended says so instead (ended-panel.tsx).
 */
import type { ReactNode } from 'react';
import { Badge, Button, Group, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { IconClipboardHeart, IconFlask, IconMessage, IconNotes, IconStethoscope } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useRecords } from '@hale/react';
import type { ReceivedGrant } from '@hale/client';
import { formatDate } from '../../records/format';
import { labValueText } from '../../records/clinical';
import { ScrollTable } from '../../ui/scroll-table';
import { Card } from '../ui';
import { usePatientChart } from './chart-context';
import { canRead, canWrite, chartBase } from './grant';
import { accessLabel, purgedCount, streamLabel, untilLabel } from './grant-words';
import { EndedPanel } from './ended-panel';
import { outOfRange } from '../labs/lab-flags';

export function PatientOverview(): ReactNode {
  const { t } = useTranslation();
  const { patientId, chart } = usePatientChart();
  if (chart === undefined) {
    return (
      <Stack align="flex-start">
        <Text>{t('workspace.chart.notShared')}</Text>
        <Button component={Link} to="/workspace/patients" variant="default">
          {t('workspace.patients.title')}
        </Button>
      </Stack>
    );
  }
  const grant = chart.grant;
  const ended = grant?.ended ?? [];
  return (
    <Stack gap="md">
      {(chart.state === 'ended' || ended.length > 0) && (
        <EndedPanel
          patientId={patientId}
          ended={ended}
          whole={chart.state === 'ended'}
          purged={purgedCount(grant)}
        />
      )}
      {grant !== undefined && grant.streams.length > 0 && (
        <>
          <Actions patientId={patientId} grant={grant} />
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <GrantCard grant={grant} />
            {canRead(grant, 'Encounter') && <Encounters patientId={patientId} />}
            {canRead(grant, 'LabResult') && <Labs patientId={patientId} />}
            {canRead(grant, 'TreatmentPlan') && <Plans patientId={patientId} />}
            {canRead(grant, 'MedicalNote') && <Notes patientId={patientId} />}
          </SimpleGrid>
        </>
      )}
    </Stack>
  );
}

function Actions(props: { readonly patientId: string; readonly grant: ReceivedGrant }): ReactNode {
  const { t } = useTranslation();
  const base = chartBase(props.patientId);
  const actions = [
    {
      kind: 'Encounter' as const,
      to: `${base}/encounters/new`,
      label: 'workspace.actions.encounter',
      icon: IconStethoscope,
    },
    {
      kind: 'MedicalNote' as const,
      to: `${base}/notes/new`,
      label: 'workspace.actions.note',
      icon: IconNotes,
    },
    { kind: 'LabResult' as const, to: `${base}/labs/new`, label: 'workspace.actions.lab', icon: IconFlask },
    {
      kind: 'TreatmentPlan' as const,
      to: `${base}/plans/new`,
      label: 'workspace.actions.plan',
      icon: IconClipboardHeart,
    },
    // The thread itself is the care screens' (`/care/messages`, both roles).
    {
      kind: 'Message' as const,
      to: `/care/messages/new?to=${encodeURIComponent(props.patientId)}`,
      label: 'workspace.actions.message',
      icon: IconMessage,
    },
  ].filter((a) => canWrite(props.grant, a.kind));
  if (actions.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        {t('workspace.actions.readOnly')}
      </Text>
    );
  }
  return (
    <Group gap="xs">
      {actions.map((a) => (
        <Button key={a.to} component={Link} to={a.to} leftSection={<a.icon size={18} />} variant="light">
          {t(a.label)}
        </Button>
      ))}
    </Group>
  );
}

function GrantCard(props: { readonly grant: ReceivedGrant }): ReactNode {
  const { t } = useTranslation();
  return (
    <Card title={t('workspace.grant.title')} testId="grant-card">
      <Text size="sm" c="dimmed">
        {t('workspace.grant.explain')}
      </Text>
      <ScrollTable label={t('workspace.grant.title')} minWidth={460}>
        <Table verticalSpacing={6}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('workspace.grant.kind')}</Table.Th>
              <Table.Th>{t('workspace.grant.access')}</Table.Th>
              <Table.Th>{t('workspace.grant.until')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {props.grant.streams.map((s) => (
              <Table.Tr key={s.type} data-testid={`grant-${s.type}`}>
                <Table.Td>{streamLabel(t, s.type)}</Table.Td>
                <Table.Td>
                  <Badge
                    variant="light"
                    color={s.access === 'write' ? 'blue' : 'gray'}
                    styles={{ label: { overflow: 'visible' } }}
                  >
                    {accessLabel(t, s.access)}
                  </Badge>
                </Table.Td>
                <Table.Td>{untilLabel(t, s.readExpiresAt ?? s.expiresAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollTable>
    </Card>
  );
}

function RowLink(props: {
  readonly to: string;
  readonly title: string;
  readonly detail: string;
  readonly badge?: ReactNode;
}): ReactNode {
  return (
    <Link to={props.to} className="hale-row-link" style={{ borderRadius: 8 }}>
      <Group justify="space-between" wrap="nowrap" px={6} py={6} gap="xs">
        <div style={{ minWidth: 0 }}>
          <Text component="span" display="block" size="sm" fw={600} truncate>
            {props.title}
          </Text>
          <Text size="xs" c="dimmed" truncate>
            {props.detail}
          </Text>
        </div>
        {props.badge}
      </Group>
    </Link>
  );
}

function Encounters(props: { readonly patientId: string }): ReactNode {
  const { t } = useTranslation();
  const base = chartBase(props.patientId);
  const page = useRecords('Encounter', { patientId: props.patientId, sort: 'clinical', limit: 5 });
  return (
    <Card title={t('kinds.encounters.title')} link={{ to: `${base}/encounters`, label: t('home.seeAll') }}>
      {page.total === 0 && (
        <Text size="sm" c="dimmed">
          {t('kinds.encounters.empty')}
        </Text>
      )}
      {page.items.map(({ record: e }) => (
        <RowLink
          key={e.id}
          to={`${base}/encounters/${e.id}`}
          title={e.reason ?? t('kinds.encounters.one')}
          detail={`${formatDate(e.startedAt)} · ${t(`enum.encounterType.${e.type}`)}`}
          badge={<Badge variant="light">{t(`enum.encounterStatus.${e.status}`)}</Badge>}
        />
      ))}
    </Card>
  );
}

function Labs(props: { readonly patientId: string }): ReactNode {
  const { t } = useTranslation();
  const base = chartBase(props.patientId);
  const page = useRecords('LabResult', { patientId: props.patientId, sort: 'clinical', limit: 5 });
  return (
    <Card title={t('kinds.labs.title')} link={{ to: `${base}/labs`, label: t('home.seeAll') }}>
      {page.total === 0 && (
        <Text size="sm" c="dimmed">
          {t('kinds.labs.empty')}
        </Text>
      )}
      {page.items.map(({ record: l }) => (
        <RowLink
          key={l.id}
          to={`${base}/labs/${l.id}`}
          title={l.testName}
          detail={[
            l.value === undefined && l.components === undefined ? '' : labValueText(l),
            formatDate(l.effectiveAt),
          ]
            .filter(Boolean)
            .join(' · ')}
          badge={
            <Group gap={4} wrap="nowrap" style={{ flexShrink: 0 }}>
              {outOfRange(l).map((f) => (
                <Badge key={`${f.part ?? ''}${f.flag}`} color="red" variant="filled">
                  {f.part === undefined
                    ? t(`trends.flag.${f.flag}`)
                    : t('workspace.lab.partFlag', { part: f.part, flag: t(`trends.flag.${f.flag}`) })}
                </Badge>
              ))}
              <Badge variant="light">{t(`enum.labStatus.${l.status}`)}</Badge>
            </Group>
          }
        />
      ))}
    </Card>
  );
}

function Plans(props: { readonly patientId: string }): ReactNode {
  const { t } = useTranslation();
  const base = chartBase(props.patientId);
  const page = useRecords('TreatmentPlan', { patientId: props.patientId, limit: 5 });
  return (
    <Card title={t('kinds.plans.title')} link={{ to: `${base}/plans`, label: t('home.seeAll') }}>
      {page.total === 0 && (
        <Text size="sm" c="dimmed">
          {t('kinds.plans.empty')}
        </Text>
      )}
      {page.items.map(({ record: p }) => (
        <RowLink
          key={p.id}
          to={`${base}/plans/${p.id}`}
          title={p.summary}
          detail={t('workspace.plan.versionN', { n: p.version })}
          badge={<Badge variant="light">{t(`enum.planStatus.${p.status}`)}</Badge>}
        />
      ))}
    </Card>
  );
}

function Notes(props: { readonly patientId: string }): ReactNode {
  const { t } = useTranslation();
  const base = chartBase(props.patientId);
  const page = useRecords('MedicalNote', { patientId: props.patientId, limit: 5 });
  return (
    <Card title={t('kinds.notes.title')} link={{ to: `${base}/notes`, label: t('home.seeAll') }}>
      {page.total === 0 && (
        <Text size="sm" c="dimmed">
          {t('kinds.notes.empty')}
        </Text>
      )}
      {page.items.map(({ record: n }) => (
        <RowLink
          key={n.id}
          to={`${base}/notes/${n.id}`}
          title={n.title}
          detail={`${t(`enum.noteType.${n.noteType}`)} · ${formatDate(n.updatedAt)}`}
          badge={<Badge variant="light">{t(`workspace.noteStatus.${n.status}`)}</Badge>}
        />
      ))}
    </Card>
  );
}
