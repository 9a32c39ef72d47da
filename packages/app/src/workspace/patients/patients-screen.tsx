/**
 * Patients (`/workspace/patients`): the charts shared with this clinician, each with what its grant allows
 * (record kinds, read or read and write) and until when; charts whose access ended, with why. A virtualised
 * list: only the rows in view read their patient's name, so 200 charts open as fast as 10.
 */
import { useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Badge, Button, Group, Paper, SegmentedControl, Stack, Text } from '@mantine/core';
import { IconShieldCheck, IconUserPlus } from '@tabler/icons-react';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { PageHeader } from '../../ui/page-header';
import { useCharts, type ChartEntry } from './charts';
import { usePatientName } from './patient-name';
import { accessLabel, stateColor, streamLabel, untilLabel } from './grant-words';

const ROW_HEIGHT = 84;
type Show = 'current' | 'ended' | 'all';

export function PatientsScreen(): ReactNode {
  const { t } = useTranslation();
  const charts = useCharts();
  const [show, setShow] = useState<Show>('current');
  const rows = useMemo(
    () =>
      charts.filter((c) => show === 'all' || (show === 'ended' ? c.state === 'ended' : c.state !== 'ended')),
    [charts, show],
  );
  const current = charts.filter((c) => c.state !== 'ended').length;
  const listRef = useRef<HTMLUListElement>(null);
  const [margin, setMargin] = useState(0);
  useLayoutEffect(() => {
    const top = listRef.current?.getBoundingClientRect().top;
    if (top !== undefined) setMargin(top + window.scrollY);
  }, [rows.length]);
  const virtualizer = useWindowVirtualizer({
    count: rows.length,
    estimateSize: () => ROW_HEIGHT,
    overscan: 6,
    scrollMargin: margin,
  });

  return (
    <Stack maw={1100}>
      <PageHeader
        title={t('workspace.patients.title')}
        actions={
          <>
            <Button component={Link} to="/workspace/invite" leftSection={<IconUserPlus size={18} />}>
              {t('workspace.invite.title')}
            </Button>
            <Button
              component={Link}
              to="/workspace/check"
              variant="light"
              leftSection={<IconShieldCheck size={18} />}
            >
              {t('workspace.keys.checkTitle')}
            </Button>
          </>
        }
      />
      <Text c="dimmed" size="sm">
        {t('workspace.patients.explain')}
      </Text>
      <SegmentedControl
        fullWidth
        maw={480}
        value={show}
        onChange={(v) => setShow(v)}
        aria-label={t('workspace.patients.show')}
        data={[
          { value: 'current', label: t('workspace.patients.current', { count: current }) },
          { value: 'ended', label: t('workspace.patients.ended', { count: charts.length - current }) },
          { value: 'all', label: t('workspace.patients.all') },
        ]}
      />
      {rows.length === 0 ? (
        <Paper withBorder p="xl">
          <Stack gap={4}>
            <Text fw={600}>
              {t(show === 'ended' ? 'workspace.patients.noneEnded' : 'workspace.patients.none')}
            </Text>
            <Text c="dimmed" size="sm">
              {t('workspace.patients.noneHint')}
            </Text>
            {show !== 'ended' && (
              <Button
                component={Link}
                to="/workspace/invite"
                variant="default"
                mt="xs"
                w="fit-content"
                leftSection={<IconUserPlus size={18} />}
              >
                {t('workspace.invite.title')}
              </Button>
            )}
          </Stack>
        </Paper>
      ) : (
        <Paper withBorder>
          <Text size="sm" c="dimmed" px="md" pt="sm" aria-live="polite">
            {t('workspace.patients.count', { count: rows.length })}
          </Text>
          <ul
            ref={listRef}
            role="list"
            aria-label={t('workspace.patients.title')}
            data-testid="patients-list"
            style={{
              height: virtualizer.getTotalSize(),
              position: 'relative',
              listStyle: 'none',
              margin: 0,
              padding: 0,
            }}
          >
            {virtualizer.getVirtualItems().map((item) => {
              const chart = rows[item.index];
              if (chart === undefined) return null;
              return (
                <li
                  key={chart.patientId}
                  data-index={item.index}
                  ref={virtualizer.measureElement}
                  style={{
                    position: 'absolute',
                    top: 0,
                    left: 0,
                    width: '100%',
                    transform: `translateY(${item.start - virtualizer.options.scrollMargin}px)`,
                  }}
                >
                  <PatientRow chart={chart} />
                </li>
              );
            })}
          </ul>
        </Paper>
      )}
    </Stack>
  );
}

function PatientRow(props: { readonly chart: ChartEntry }): ReactNode {
  const { t } = useTranslation();
  const { chart } = props;
  const name = usePatientName(chart.patientId, { ended: chart.state === 'ended' });
  const streams = chart.grant?.streams ?? [];
  const summary =
    streams.length === 0
      ? t('workspace.patients.accessEnded')
      : streams.map((s) => `${streamLabel(t, s.type)} (${accessLabel(t, s.access)})`).join(' · ');
  return (
    <Link
      to={`/workspace/patients/${chart.patientId}`}
      className="hale-row-link"
      data-testid={`patient-${chart.patientId}`}
    >
      <Group justify="space-between" wrap="nowrap" px="md" py="sm" mih={ROW_HEIGHT} gap="sm">
        <div style={{ minWidth: 0 }}>
          <Text component="span" display="block" fw={600} truncate>
            {name}
          </Text>
          <Text size="sm" c="dimmed" lineClamp={2}>
            {summary}
          </Text>
        </div>
        <Stack gap={4} align="flex-end" style={{ flexShrink: 0 }}>
          <Badge color={stateColor(chart.state)} variant="light">
            {t(`workspace.chartState.${chart.state}`)}
          </Badge>
          {chart.state !== 'ended' && (
            <Text size="xs" c="dimmed">
              {untilLabel(t, chart.grant?.endsAt ?? null)}
            </Text>
          )}
        </Stack>
      </Group>
    </Link>
  );
}
