/**
 * The clinician's schedule (`/workspace/schedule`): requests waiting on this clinician (confirm, decline,
 * propose another time), then the appointments of a day or a week. Bookings of published slots are
 * decided by this device as the library's rule says (architecture.md, "Booking": first booked, first
 * confirmed; a later booking of the same time is declined "slot taken"): the screen shows the outcome.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Paper, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { IconCalendarCog, IconChevronLeft, IconChevronRight } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { AppointmentView } from '@hale/client';
import { useHaleSession, useObserved } from '@hale/react';
import { dayjs } from '../../boot/dayjs';
import { formatDay } from '../../boot/dates';
import { PageHeader } from '../../ui/page-header';
import { AppointmentCell, AppointmentRow } from './appointment-row';

type Span = 'day' | 'week';

const mondayOf = (d: dayjs.Dayjs): dayjs.Dayjs => d.subtract((d.day() + 6) % 7, 'day').startOf('day');

export function ScheduleScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const all = useObserved(session.care.appointments.list);
  const [span, setSpan] = useState<Span>('week');
  const [anchor, setAnchor] = useState(() => dayjs().startOf('day'));
  const from = span === 'day' ? anchor : mondayOf(anchor);
  const days = useMemo(
    () => Array.from({ length: span === 'day' ? 1 : 7 }, (_, i) => from.add(i, 'day')),
    [from.valueOf(), span],
  );
  const waiting = all.filter((a) => a.awaiting === 'provider');
  const decided = all.filter((a) => a.slotTaken);
  const inDay = (d: dayjs.Dayjs): AppointmentView[] =>
    all.filter((a) => dayjs(a.record.startAt).isSame(d, 'day') && a.awaiting !== 'provider');
  const step = (n: number): void => setAnchor((d) => d.add(n, span === 'day' ? 'day' : 'week'));
  const title =
    span === 'day'
      ? formatDay(from.toDate(), { weekday: true })
      : t('workspace.schedule.weekOf', {
          from: formatDay(from.toDate()),
          to: formatDay(from.add(6, 'day').toDate()),
        });
  return (
    <Stack maw={1200}>
      <PageHeader
        title={t('workspace.schedule.title')}
        actions={
          <Button
            component={Link}
            to="/workspace/schedule/availability"
            leftSection={<IconCalendarCog size={18} />}
          >
            {t('workspace.schedule.availability')}
          </Button>
        }
      />
      <Paper withBorder p="md" data-testid="schedule-requests">
        <Stack gap="xs">
          <Title order={2} size="h4">
            {t('workspace.schedule.requests', { count: waiting.length })}
          </Title>
          {waiting.length === 0 ? (
            <Text size="sm" c="dimmed">
              {t('workspace.schedule.noRequests')}
            </Text>
          ) : (
            waiting.map((a) => <AppointmentRow key={a.record.id} a={a} />)
          )}
        </Stack>
      </Paper>
      {decided.length > 0 && (
        <Alert
          color="orange"
          variant="light"
          title={t('workspace.schedule.decidedTitle')}
          data-testid="schedule-decided"
        >
          <Stack gap={4}>
            <Text size="sm">{t('workspace.schedule.decidedExplain')}</Text>
            {decided.map((a) => (
              <AppointmentRow key={a.record.id} a={a} compact />
            ))}
          </Stack>
        </Alert>
      )}
      <Group justify="space-between" wrap="wrap">
        <Group gap="xs">
          <Button
            variant="default"
            size="sm"
            onClick={() => step(-1)}
            aria-label={t('workspace.schedule.previous')}
          >
            <IconChevronLeft size={18} />
          </Button>
          <Button variant="default" size="sm" onClick={() => setAnchor(dayjs().startOf('day'))}>
            {t('workspace.schedule.today')}
          </Button>
          <Button
            variant="default"
            size="sm"
            onClick={() => step(1)}
            aria-label={t('workspace.schedule.next')}
          >
            <IconChevronRight size={18} />
          </Button>
          <Title order={2} size="h4" aria-live="polite">
            {title}
          </Title>
        </Group>
        <SegmentedControl
          miw={160}
          style={{ flexShrink: 0 }}
          value={span}
          onChange={(v) => setSpan(v)}
          aria-label={t('workspace.schedule.span')}
          data={[
            { value: 'day', label: t('workspace.schedule.day') },
            { value: 'week', label: t('workspace.schedule.week') },
          ]}
        />
      </Group>
      <SimpleGrid cols={{ base: 1, md: span === 'day' ? 1 : 7 }} spacing="xs" data-testid="schedule-calendar">
        {days.map((d) => {
          const items = inDay(d);
          const today = d.isSame(dayjs(), 'day');
          return (
            <Paper
              key={d.valueOf()}
              withBorder
              p="xs"
              style={today ? { background: 'var(--mantine-color-hale-0)' } : undefined}
            >
              <Title order={3} size="sm">
                {d.format(span === 'day' ? 'dddd' : 'ddd D')}
              </Title>
              {items.length === 0 ? (
                <Text size="xs" c="dimmed">
                  {t('workspace.schedule.free')}
                </Text>
              ) : (
                items.map((a) =>
                  span === 'week' ? (
                    <AppointmentCell key={a.record.id} a={a} />
                  ) : (
                    <AppointmentRow key={a.record.id} a={a} />
                  ),
                )
              )}
            </Paper>
          );
        })}
      </SimpleGrid>
    </Stack>
  );
}
