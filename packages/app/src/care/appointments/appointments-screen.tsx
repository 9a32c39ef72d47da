/**
 * Appointments (`/care/appointments`, `?focus=<id>` from a notification): what needs the patient's answer
 * (a new time proposed), what is coming (asked, confirmed), and what is past or closed. Times in this
 * device's zone. Live: a clinic's answer shows as it arrives.
 */
import { useEffect, useMemo, type ReactNode } from 'react';
import { Button, Paper, Stack, Text, Title } from '@mantine/core';
import { IconCalendarPlus } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import type { AppointmentView } from '@hale/client';
import { useObserved, useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { NotificationPrompt } from '../notify/prompt';
import { AppointmentCard } from './appointment-card';
import { viewerZone } from './when';

export function AppointmentsScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const list = useObserved(session.care.appointments.list);
  const [params] = useSearchParams();
  const focus = params.get('focus');
  const { answer, coming, past } = useMemo(() => {
    const now = Date.now();
    const mine = list.filter((a) => a.record.patientId === session.account.accountId);
    const answer = mine.filter((a) => a.awaiting === 'patient');
    const coming = mine.filter(
      (a) =>
        a.awaiting !== 'patient' &&
        (a.record.status === 'requested' ||
          (a.record.status === 'scheduled' && Date.parse(a.record.endAt) >= now)),
    );
    const shown = new Set([...answer, ...coming]);
    const past = mine.filter((a) => !shown.has(a)).reverse();
    return { answer, coming, past };
  }, [list, session]);

  useEffect(() => {
    if (focus !== null)
      document.getElementById(`appointment-${focus}`)?.scrollIntoView?.({ block: 'center' });
  }, [focus, list]);

  const section = (
    id: string,
    title: string,
    items: readonly AppointmentView[],
    empty?: string,
  ): ReactNode =>
    items.length === 0 && empty === undefined ? null : (
      <Stack gap="sm" component="section" aria-labelledby={id}>
        <Title order={2} size="h4" id={id}>
          {title}
        </Title>
        {items.length === 0 ? (
          <Paper withBorder p="lg">
            <Text c="dimmed">{empty}</Text>
          </Paper>
        ) : (
          items.map((a) => <AppointmentCard key={a.record.id} view={a} focused={a.record.id === focus} />)
        )}
      </Stack>
    );

  return (
    <Stack maw={880}>
      <PageHeader
        title={t('care.appointments.title')}
        actions={
          <Button component={Link} to="/care/appointments/new" leftSection={<IconCalendarPlus size={18} />}>
            {t('care.appointments.new')}
          </Button>
        }
      />
      <Text size="sm" c="dimmed">
        {t('care.appointments.zoneNote', { zone: viewerZone() })}
      </Text>
      <NotificationPrompt />
      {section('appointments-answer', t('care.appointments.needsAnswer'), answer)}
      {section(
        'appointments-coming',
        t('care.appointments.upcoming'),
        coming,
        t('care.appointments.noneUpcoming'),
      )}
      {section('appointments-past', t('care.appointments.past'), past)}
    </Stack>
  );
}
