/**
 * One patient's chart in the workspace (`/workspace/patients/:patientId/*`): the patient's name and the
 * chart's state above, the safety banner (allergies, active medications, active problems: safety-banner.tsx)
 * on every page of a chart still shared, the kinds the grant shares as the chart's sections (chart-nav.tsx),
 * and below them the screen,
 * inside a chart scope (records/chart-scope.tsx) so the app's own record screens read and write this
 * patient's chart, limited to what the grant allows. A chart whose access ended keeps only its overview.
 */
import type { ReactNode } from 'react';
import { Alert, Badge, Button, Group, Stack, Text, Title } from '@mantine/core';
import { IconArrowLeft, IconShieldCheck } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, Outlet, useLocation, useParams } from 'react-router';
import { ChartScopeContext } from '../../records/chart-scope';
import { isKindSlug, KINDS } from '../../records/kinds';
import { useChart } from './charts';
import { ChartNav } from './chart-nav';
import { SafetyBanner } from './safety-banner';
import { chartBase, grantedSlugs, scopeOf } from './grant';
import { stateColor, untilLabel } from './grant-words';
import { usePatientBirthDate, usePatientName } from './patient-name';
import { formatDate } from '../../records/format';

export function PatientLayout(): ReactNode {
  const { patientId } = useParams();
  if (patientId === undefined) return <Navigate to="/workspace/patients" replace />;
  return <Layout key={patientId} patientId={patientId} />;
}

function Layout(props: { readonly patientId: string }): ReactNode {
  const { t } = useTranslation();
  const { patientId } = props;
  const location = useLocation();
  const chart = useChart(patientId);
  const name = usePatientName(patientId, { ended: chart?.state === 'ended' });
  const birthDate = usePatientBirthDate(patientId);
  const grant = chart?.grant;
  const slugs = grantedSlugs(grant);
  const base = chartBase(patientId);
  const overview = `/workspace/patients/${patientId}`;
  // A kind the grant does not share is refused here, whatever the address asked for.
  const asked = location.pathname.startsWith(`${base}/`)
    ? location.pathname.slice(base.length + 1).split('/')[0]
    : undefined;
  const refused = isKindSlug(asked) && !slugs.includes(asked) ? asked : undefined;
  const sections = [
    { to: overview, label: t('workspace.chart.overview'), active: location.pathname === overview },
    ...slugs.map((slug) => ({
      to: `${base}/${slug}`,
      label: t(`kinds.${slug}.title`),
      active: location.pathname.startsWith(`${base}/${slug}`),
    })),
  ];
  return (
    <ChartScopeContext.Provider value={scopeOf(patientId, grant)}>
      <Stack gap="md" maw={1200}>
        <Stack gap={6} className="hale-no-print">
          <Button
            component={Link}
            to="/workspace/patients"
            variant="subtle"
            size="compact-sm"
            leftSection={<IconArrowLeft size={16} />}
            w="fit-content"
          >
            {t('workspace.patients.title')}
          </Button>
          <Group justify="space-between" align="flex-end" wrap="wrap" gap="xs">
            <div>
              <Title order={1} size="h2" data-testid="patient-name">
                {name}
              </Title>
              <Text size="sm" c="dimmed">
                {[
                  birthDate === undefined ? null : t('workspace.chart.born', { date: formatDate(birthDate) }),
                  chart === undefined || chart.state === 'ended'
                    ? null
                    : untilLabel(t, grant?.endsAt ?? null),
                ]
                  .filter((x) => x !== null)
                  .join(' · ')}
              </Text>
            </div>
            <Group gap="xs">
              <Button
                component={Link}
                to={`/workspace/check?patient=${encodeURIComponent(patientId)}`}
                variant="subtle"
                size="compact-sm"
                leftSection={<IconShieldCheck size={16} />}
              >
                {t('workspace.keys.checkShort')}
              </Button>
              {/* A chart this device never held is not said to have ended: the page says it is not shared. */}
              {chart !== undefined && (
                <Badge color={stateColor(chart.state)} variant="light" size="lg" data-testid="chart-state">
                  {t(`workspace.chartState.${chart.state}`)}
                </Badge>
              )}
            </Group>
          </Group>
          {grant !== undefined && chart?.state !== 'ended' && grant.streams.length > 0 && (
            <SafetyBanner patientId={patientId} grant={grant} />
          )}
          {slugs.length > 0 && <ChartNav sections={sections} />}
        </Stack>
        {refused === undefined ? (
          <Outlet context={{ patientId, name, chart, kinds: slugs.map((s) => KINDS[s].kind) }} />
        ) : (
          <Alert color="gray" data-testid="kind-not-shared" title={t('workspace.chart.kindNotSharedTitle')}>
            <Stack gap="xs" align="flex-start">
              <Text size="sm">
                {t('workspace.chart.kindNotShared', { kind: t(`kinds.${refused}.title`) })}
              </Text>
              <Button component={Link} to={overview} variant="default" size="sm">
                {t('workspace.chart.overview')}
              </Button>
            </Stack>
          </Alert>
        )}
      </Stack>
    </ChartScopeContext.Provider>
  );
}
