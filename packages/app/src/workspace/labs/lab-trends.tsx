/**
 * A chart's lab trends in the workspace (`…/chart/labs/trends?test=`): the view the patient has of their own
 * (records/lab-trends-view.tsx: the chart with the reference range as a band and out-of-range points
 * marked, the table of every result), over this patient's results the grant shares.
 */
import type { ReactNode } from 'react';
import { Paper, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { TrendPicker, useTrends } from '../../records/lab-trends-view';
import { PageHeader } from '../../ui/page-header';
import { usePatientChart } from '../patients/chart-context';
import { chartBase } from '../patients/grant';

export function WorkspaceLabTrendsScreen(): ReactNode {
  const { t } = useTranslation();
  const { patientId } = usePatientChart();
  const trends = useTrends({ patientId });
  return (
    <Stack>
      <PageHeader title={t('trends.title')} back={`${chartBase(patientId)}/labs`} />
      {trends.length === 0 ? (
        <Paper withBorder p="xl">
          <Text fw={600}>{t('trends.empty')}</Text>
        </Paper>
      ) : (
        <TrendPicker trends={trends} />
      )}
    </Stack>
  );
}
