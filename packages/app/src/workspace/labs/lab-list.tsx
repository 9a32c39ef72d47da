/**
 * A chart's lab results in the workspace (`…/chart/labs`): newest first, each with its value and unit, its
 * reference range and a High or Low mark where it lies outside it (lab-flags.ts), which way it moved from the
 * test's result before it in the list (lab-trend.ts), when it was taken and its
 * status; the way to the trends (`…/chart/labs/trends`) and, where the grant lets this clinician write, to
 * enter a result. Read a page at a time (PAGE results more on request), so a long chart opens at once.
 */
import { useState, type ReactNode } from 'react';
import { Anchor, Badge, Button, Group, Paper, Stack, Table, Text } from '@mantine/core';
import { IconChartLine, IconPlus } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useRecords } from '@hale/react';
import type { RecordOf } from '@hale/model';
import { labValueText } from '../../records/clinical';
import { formatDate } from '../../records/format';
import { useChartScope } from '../../records/chart-scope';
import { PageHeader } from '../../ui/page-header';
import { ScrollTable } from '../../ui/scroll-table';
import { usePatientChart } from '../patients/chart-context';
import { chartBase } from '../patients/grant';
import { outOfRange } from './lab-flags';
import { trendsOf, type Trend } from './lab-trend';
import { TrendWords } from './trend-words';

const PAGE = 50;

export function LabListScreen(): ReactNode {
  const { t } = useTranslation();
  const { patientId } = usePatientChart();
  const scope = useChartScope();
  const base = chartBase(patientId);
  const [limit, setLimit] = useState(PAGE);
  const page = useRecords('LabResult', { patientId, sort: 'clinical', limit });
  const title = t('kinds.labs.title');
  const trends = trendsOf(page.items.map((i) => i.record));
  return (
    <Stack>
      <PageHeader
        title={title}
        actions={
          <>
            {page.total > 0 && (
              <Button
                component={Link}
                to={`${base}/labs/trends`}
                variant="default"
                leftSection={<IconChartLine size={18} />}
              >
                {t('workspace.lab.trends')}
              </Button>
            )}
            {scope.canWrite('LabResult') && (
              <Button component={Link} to={`${base}/labs/new`} leftSection={<IconPlus size={18} />}>
                {t('workspace.actions.lab')}
              </Button>
            )}
          </>
        }
      />
      {page.loading !== true && page.total === 0 ? (
        <Paper withBorder p="xl">
          <Text fw={600}>{t('kinds.labs.empty')}</Text>
        </Paper>
      ) : (
        <Paper withBorder>
          <ScrollTable label={title} minWidth={640}>
            <Table verticalSpacing="xs" data-testid="lab-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('fields.testName')}</Table.Th>
                  <Table.Th>{t('fields.value')}</Table.Th>
                  <Table.Th>{t('fields.referenceRange')}</Table.Th>
                  <Table.Th>{t('fields.effectiveAt')}</Table.Th>
                  <Table.Th>{t('fields.status')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {page.items.map(({ record }) => (
                  <LabRow
                    key={record.id}
                    lab={record}
                    to={`${base}/labs/${record.id}`}
                    trend={trends.get(record.id)}
                  />
                ))}
              </Table.Tbody>
            </Table>
          </ScrollTable>
          {page.items.length < page.total && (
            <Group justify="space-between" p="xs">
              <Text size="sm" c="dimmed">
                {t('workspace.lab.shown', { shown: page.items.length, total: page.total })}
              </Text>
              <Button variant="subtle" onClick={() => setLimit((n) => n + PAGE)}>
                {t('workspace.lab.more')}
              </Button>
            </Group>
          )}
        </Paper>
      )}
    </Stack>
  );
}

function LabRow(props: {
  readonly lab: RecordOf<'LabResult'>;
  readonly to: string;
  readonly trend: Trend | undefined;
}): ReactNode {
  const { t } = useTranslation();
  const { lab } = props;
  const flags = outOfRange(lab);
  const withdrawn = lab.status === 'entered-in-error' || lab.status === 'cancelled';
  return (
    <Table.Tr data-testid={`lab-${lab.id}`} data-flag={flags.map((f) => f.flag).join(' ') || 'none'}>
      <Table.Td>
        <Anchor component={Link} to={props.to} fw={600}>
          {lab.testName}
        </Anchor>
      </Table.Td>
      <Table.Td>
        <Group gap={6} wrap="wrap">
          <Text size="sm" fw={flags.length > 0 ? 700 : undefined} td={withdrawn ? 'line-through' : undefined}>
            {labValueText(lab)}
          </Text>
          {props.trend !== undefined && (
            <Text
              component="span"
              size="xs"
              c="dimmed"
              data-testid="lab-trend"
              data-direction={props.trend.direction}
            >
              <TrendWords trend={props.trend} />
            </Text>
          )}
          {flags.map((f) => (
            <Badge key={`${f.part ?? ''}${f.flag}`} color="red" variant="filled" size="sm">
              {f.part === undefined
                ? t(`trends.flag.${f.flag}`)
                : t('workspace.lab.partFlag', { part: f.part, flag: t(`trends.flag.${f.flag}`) })}
            </Badge>
          ))}
        </Group>
      </Table.Td>
      <Table.Td>
        <Text size="sm" c="dimmed">
          {lab.referenceRange ?? '—'}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm">{formatDate(lab.effectiveAt)}</Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm">{t(`enum.labStatus.${lab.status}`)}</Text>
      </Table.Td>
    </Table.Tr>
  );
}
