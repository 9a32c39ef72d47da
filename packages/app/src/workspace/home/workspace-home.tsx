/**
 * The clinician's day (`/workspace/today`, a provider's home): today's appointments, requests waiting on
 * this clinician, co-signatures asked of it, its patients by state, and what others did since the app
 * opened (`care.notifications.recent`, said in fixed words that name no health content, each linking to
 * what it is about). A clinician without a directory profile is asked to publish one first.
 */
import type { ReactNode } from 'react';
import { Alert, Anchor, Badge, Button, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { CareNotification } from '@hale/client';
import { useHaleSession, useObserved } from '@hale/react';
import { dayjs } from '../../boot/dayjs';
import { formatDay } from '../../boot/dates';
import { formatDate } from '../../records/format';
import { useCharts } from '../patients/charts';
import { chartBase } from '../patients/grant';
import { readMyProfile } from '../profile/my-profile';
import { AppointmentCell } from '../schedule/appointment-row';
import { Card } from '../ui';

export const notificationLink = (n: CareNotification): string | null => {
  switch (n.type) {
    case 'cosign-request':
      return `/workspace/cosign/${n.target.recordId}`;
    case 'plan-acknowledged':
    case 'plan-to-acknowledge':
      return `${chartBase(n.target.patientId)}/plans/${n.target.recordId}`;
    case 'appointment':
      return '/workspace/schedule';
    case 'message':
      return null;
  }
};

export function WorkspaceHome(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const profile = readMyProfile(session.account.accountId);
  const appointments = useObserved(session.care.appointments.list);
  const queue = useObserved(session.care.notes.cosignQueue);
  const recent = useObserved(session.care.notifications.recent);
  const charts = useCharts();
  const today = appointments.filter(
    (a) => dayjs(a.record.startAt).isSame(dayjs(), 'day') && a.record.status === 'scheduled',
  );
  const waiting = appointments.filter((a) => a.awaiting === 'provider');
  const count = (state: string): number => charts.filter((c) => c.state === state).length;
  return (
    <Stack maw={1200}>
      <div>
        <Title order={1} size="h2">
          {profile === null
            ? t('workspace.home.title')
            : t('workspace.home.hello', { name: profile.displayName })}
        </Title>
        <Text c="dimmed">{formatDay(Date.now(), { weekday: true, long: true })}</Text>
      </div>
      {profile === null && (
        <Alert color="blue" title={t('workspace.home.noProfileTitle')}>
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('workspace.home.noProfile')}</Text>
            <Button component={Link} to="/workspace/profile" size="sm">
              {t('workspace.home.publishProfile')}
            </Button>
          </Stack>
        </Alert>
      )}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card
          title={t('workspace.home.today', { count: today.length })}
          link={{ to: '/workspace/schedule', label: t('workspace.nav.schedule') }}
          testId="home-today"
        >
          {today.length === 0 ? (
            <Text size="sm" c="dimmed">
              {t('workspace.home.noneToday')}
            </Text>
          ) : (
            today.map((a) => <AppointmentCell key={a.record.id} a={a} />)
          )}
        </Card>
        <Card title={t('workspace.home.waiting')} testId="home-waiting">
          <Group gap="xs">
            <Anchor component={Link} to="/workspace/schedule">
              {t('workspace.home.requests', { count: waiting.length })}
            </Anchor>
          </Group>
          <Group gap="xs">
            <Anchor component={Link} to="/workspace/cosign">
              {t('workspace.home.cosigns', { count: queue.length })}
            </Anchor>
          </Group>
        </Card>
        <Card
          title={t('workspace.patients.title')}
          link={{ to: '/workspace/patients', label: t('home.seeAll') }}
          testId="home-patients"
        >
          <Group gap="xs">
            <Badge color="teal" variant="light">
              {t('workspace.home.active', { count: count('active') })}
            </Badge>
            <Badge color="orange" variant="light">
              {t('workspace.home.expiring', { count: count('expiring') })}
            </Badge>
            <Badge color="gray" variant="light">
              {t('workspace.home.ended', { count: count('ended') })}
            </Badge>
          </Group>
        </Card>
        <Card title={t('workspace.home.recent')} testId="home-recent">
          {recent.length === 0 ? (
            <Text size="sm" c="dimmed">
              {t('workspace.home.noRecent')}
            </Text>
          ) : (
            recent.slice(0, 8).map((n) => {
              const to = notificationLink(n);
              const words = t(`workspace.notification.${n.type}`);
              return (
                <Group key={n.id} justify="space-between" wrap="nowrap" gap="xs">
                  {to === null ? (
                    <Text size="sm">{words}</Text>
                  ) : (
                    <Anchor component={Link} to={to} size="sm">
                      {words}
                    </Anchor>
                  )}
                  <Text size="xs" c="dimmed">
                    {formatDate(n.at)}
                  </Text>
                </Group>
              );
            })
          )}
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
