/**
 * Lab trends (`/labs/trends?test=`): the tests on file, and for the chosen one its trend
 * (records/lab-trends-view.tsx: the chart with the reference range, the table of every result), and a way
 * to enter a result from a paper report.
 */
import type { ReactNode } from 'react';
import { Button, Paper, Stack, Text } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { saveDraft } from '../../records/drafts';
import { emptyValues } from '../../records/values';
import { KINDS } from '../../records/kinds';
import { TrendPicker, useChosenTrend, useTrends } from '../../records/lab-trends-view';

export function LabTrendsScreen(): ReactNode {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const session = useHaleSession();
  const trends = useTrends({});
  const chosen = useChosenTrend(trends);
  const enter = (): void => {
    const latest = chosen?.latest;
    void saveDraft(session, 'labs:new', {
      ...emptyValues(KINDS.labs),
      ...(latest === undefined
        ? {}
        : {
            testName: latest.testName,
            testCode: latest.testCode ?? '',
            units: latest.units ?? '',
            referenceRange: latest.referenceRange ?? '',
          }),
    });
    void navigate('/chart/labs/new');
  };
  return (
    <Stack>
      <PageHeader
        title={t('trends.title')}
        actions={
          <Button leftSection={<IconPlus size={18} />} onClick={enter}>
            {t('trends.enter')}
          </Button>
        }
      />
      {trends.length === 0 ? (
        <Paper withBorder p="xl">
          <Text fw={600}>{t('trends.empty')}</Text>
          <Text size="sm" c="dimmed">
            {t('trends.emptyHint')}
          </Text>
        </Paper>
      ) : (
        <TrendPicker trends={trends} />
      )}
    </Stack>
  );
}
