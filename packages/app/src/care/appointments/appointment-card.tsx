/**
 * One appointment as a patient sees it: when (its zone and the clinic's), with whom, where, why; its state
 * in words (waiting for the clinic, confirmed, a new time proposed, declined — the slot taken by another
 * booking said as such — cancelled, completed) and the clinic's note; what the patient can do now: accept
 * or refuse a proposed time, cancel, add it to a calendar (.ics, no health content in it).
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Modal, Paper, Stack, Text, Textarea } from '@mantine/core';
import { IconCalendarPlus } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { AppointmentView } from '@hale/client';
import { careErrorText } from '../errors';
import { usePersonName } from '../people';
import { whenText } from './when';
import { useHaleSession } from '@hale/react';

const COLOR: Record<string, string> = {
  requested: 'blue',
  proposed: 'orange',
  scheduled: 'green',
  declined: 'red',
  canceled: 'gray',
  completed: 'gray',
};

const downloadText = (text: string, name: string, type: string): void => {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
};

export function AppointmentCard(props: {
  readonly view: AppointmentView;
  readonly focused?: boolean;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const a = props.view.record;
  const name = usePersonName(a.providerId);
  const by = usePersonName(a.statusBy);
  const times = useMemo(() => session.care.appointments.times(a), [session, a]);
  const when = whenText(times);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const [note, setNote] = useState('');

  const act = async (what: string, run: () => Promise<unknown>): Promise<boolean> => {
    setBusy(what);
    setError(null);
    try {
      await run();
      return true;
    } catch (e) {
      setError(careErrorText(t, e));
      return false;
    } finally {
      setBusy(null);
    }
  };
  const open = a.status === 'requested' || a.status === 'proposed' || a.status === 'scheduled';
  const state = (() => {
    switch (a.status) {
      case 'requested':
        return t('care.appointments.state.requested', { name });
      case 'proposed':
        return t('care.appointments.state.proposed', { name });
      case 'scheduled':
        return props.view.confirmed
          ? t('care.appointments.state.confirmed', { name })
          : t('care.appointments.state.scheduled');
      case 'declined':
        return props.view.slotTaken
          ? t('care.appointments.state.slotTaken')
          : t('care.appointments.state.declined', { name: by });
      case 'canceled':
        return props.view.slotTaken
          ? t('care.appointments.state.slotTaken')
          : t('care.appointments.state.canceled', { name: by });
      default:
        return t('care.appointments.state.completed');
    }
  })();

  return (
    <Paper
      withBorder
      p="md"
      id={`appointment-${a.id}`}
      data-testid="appointment-card"
      data-status={a.status}
      data-id={a.id}
      style={
        props.focused === true
          ? { borderColor: 'var(--mantine-primary-color-filled)', borderWidth: 2 }
          : undefined
      }
    >
      <Stack gap="xs">
        <Group justify="space-between" wrap="wrap" gap="xs">
          <div>
            <Text fw={650}>{when.day}</Text>
            <Text>
              {when.hours}{' '}
              <Text span c="dimmed" size="sm">
                {when.zone}
              </Text>
            </Text>
            {when.place !== null && (
              <Text size="xs" c="dimmed">
                {t('care.appointments.placeTime', { time: when.place })}
              </Text>
            )}
          </div>
          <Badge color={COLOR[a.status] ?? 'gray'} variant="light" data-testid="appointment-status">
            {t(`enum.appointmentStatus.${a.status}`)}
          </Badge>
        </Group>
        <Text size="sm">
          {t('care.appointments.with', { name })}
          {a.location !== undefined && ` · ${a.location}`}
        </Text>
        {a.reason !== undefined && (
          <Text size="sm" c="dimmed">
            {t('care.appointments.reasonIs', { reason: a.reason })}
          </Text>
        )}
        <Text size="sm" data-testid="appointment-state">
          {state}
        </Text>
        {a.statusNote !== undefined && (
          <Text size="sm" fs="italic">
            “{a.statusNote}”
          </Text>
        )}
        {a.status === 'requested' && (a.preferredTimes?.length ?? 0) > 1 && (
          <Text size="xs" c="dimmed">
            {t('care.appointments.preferredCount', { count: a.preferredTimes?.length ?? 0 })}
          </Text>
        )}
        {error !== null && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        <Group gap="xs">
          {props.view.awaiting === 'patient' && (
            <>
              <Button
                size="sm"
                loading={busy === 'accept'}
                onClick={() => void act('accept', () => session.care.appointments.accept(a.id))}
              >
                {t('care.appointments.accept')}
              </Button>
              <Button
                size="sm"
                variant="default"
                loading={busy === 'refuse'}
                onClick={() => void act('refuse', () => session.care.appointments.refuse(a.id))}
              >
                {t('care.appointments.refuse')}
              </Button>
            </>
          )}
          {open && (
            <Button
              size="sm"
              variant="light"
              leftSection={<IconCalendarPlus size={16} />}
              loading={busy === 'ics'}
              onClick={() =>
                void act('ics', async () => {
                  const ics = await session.care.appointments.ics(a.id, { providerName: name });
                  downloadText(
                    ics,
                    `appointment-${when.day.replace(/[^\p{L}\p{N}]+/gu, '-')}.ics`,
                    'text/calendar',
                  );
                })
              }
            >
              {t('care.appointments.calendar')}
            </Button>
          )}
          {open && (
            <Button size="sm" color="red" variant="subtle" onClick={() => setCancelling(true)}>
              {t('care.appointments.cancel')}
            </Button>
          )}
        </Group>
      </Stack>
      <Modal
        opened={cancelling}
        onClose={() => setCancelling(false)}
        title={t('care.appointments.cancelTitle')}
        closeButtonProps={{ 'aria-label': t('common.close') }}
      >
        <Stack>
          <Text size="sm">
            {t('care.appointments.cancelExplain', { name, day: when.day, hours: when.hours })}
          </Text>
          <Textarea
            label={t('care.appointments.noteToClinic')}
            value={note}
            onChange={(e) => setNote(e.currentTarget.value)}
            maxLength={1000}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setCancelling(false)}>
              {t('care.appointments.keep')}
            </Button>
            <Button
              color="red"
              loading={busy === 'cancel'}
              onClick={() =>
                void act('cancel', () =>
                  session.care.appointments.cancel(a.id, note.trim() === '' ? {} : { note: note.trim() }),
                ).then((ok) => ok && setCancelling(false))
              }
            >
              {t('care.appointments.cancelConfirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}
