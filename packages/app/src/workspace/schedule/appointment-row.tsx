/**
 * One appointment as the clinician's schedule shows it: when (in this device's zone, and the place's when
 * it differs), with whom, why, its state in words (a slot taken by an earlier booking is said as the
 * library decided it), and, when it waits on this clinician, confirm, decline or propose another time.
 */
import { useState, type ReactNode } from 'react';
import { Badge, Button, Group, Modal, NativeSelect, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { tell } from '../../ui/notice';
import { useTranslation } from 'react-i18next';
import type { AppointmentView } from '@hale/client';
import { useHaleSession } from '@hale/react';
import { dayjs } from '../../boot/dayjs';
import { formatClock, formatDay } from '../../boot/dates';
import { usePatientName } from '../patients/patient-name';
import { errorText } from '../ui';

export const statusColor = (a: AppointmentView): string =>
  a.slotTaken
    ? 'orange'
    : a.record.status === 'scheduled'
      ? 'teal'
      : a.record.status === 'requested'
        ? 'blue'
        : a.record.status === 'proposed'
          ? 'grape'
          : 'gray';

export function StatusBadge(props: { readonly a: AppointmentView }): ReactNode {
  const { t } = useTranslation();
  const { a } = props;
  return (
    <Badge color={statusColor(a)} variant="light" data-testid="appointment-status">
      {a.slotTaken ? t('workspace.schedule.slotTaken') : t(`enum.appointmentStatus.${a.record.status}`)}
    </Badge>
  );
}

export const timeRange = (a: AppointmentView): string =>
  `${formatDay(a.record.startAt, { time: true })} – ${formatClock(a.record.endAt)}`;

/** An appointment in a week's day column: its time, the patient, its state. */
export function AppointmentCell(props: { readonly a: AppointmentView }): ReactNode {
  const { a } = props;
  const patient = usePatientName(a.record.patientId);
  return (
    <Stack gap={2} py={4} data-testid={`appointment-${a.record.id}`}>
      <Text size="xs" fw={700}>
        {formatClock(a.record.startAt)}–{formatClock(a.record.endAt)}
      </Text>
      <Text size="sm" lineClamp={2}>
        {patient}
      </Text>
      <StatusBadge a={a} />
    </Stack>
  );
}

export function AppointmentRow(props: {
  readonly a: AppointmentView;
  readonly compact?: boolean;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const { a } = props;
  const r = a.record;
  const patient = usePatientName(r.patientId);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [proposing, setProposing] = useState(false);
  const times = session.care.appointments.times(r);
  const placeDiffers = times.place !== null && times.place.start.offset !== times.viewer.start.offset;

  const act = async (what: 'confirm' | 'decline'): Promise<void> => {
    setBusy(what);
    setError(null);
    try {
      if (what === 'confirm') await session.care.appointments.confirm(r.id);
      else await session.care.appointments.decline(r.id, { reason: 'unavailable' });
      tell({
        color: 'teal',
        message: t(what === 'confirm' ? 'workspace.schedule.confirmed' : 'workspace.schedule.declined'),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Stack gap={4} py={6} data-testid={`appointment-${r.id}`}>
      <Group justify="space-between" wrap="wrap" gap="xs">
        <div style={{ minWidth: 0 }}>
          <Text fw={600}>
            {timeRange(a)} · {patient}
          </Text>
          <Text size="sm" c="dimmed">
            {[
              r.reason,
              r.fromSlot === true ? t('workspace.schedule.fromSlot') : t('workspace.schedule.asked'),
              placeDiffers && times.place !== null
                ? t('workspace.schedule.placeTime', {
                    time: `${times.place.start.time} ${times.place.start.abbreviation}`,
                  })
                : null,
            ]
              .filter((x) => x !== null && x !== undefined && x !== '')
              .join(' · ')}
          </Text>
          {a.slotTaken && (
            <Text size="sm" c="orange">
              {t('workspace.schedule.slotTakenExplain')}
            </Text>
          )}
          {r.statusNote !== undefined && (
            <Text size="sm">{t('workspace.schedule.note', { note: r.statusNote })}</Text>
          )}
        </div>
        <StatusBadge a={a} />
      </Group>
      {a.awaiting === 'provider' && !props.compact && (
        <Group gap="xs">
          <Button
            size="xs"
            loading={busy === 'confirm'}
            disabled={busy !== null}
            onClick={() => void act('confirm')}
          >
            {t('workspace.schedule.confirm')}
          </Button>
          <Button size="xs" variant="default" disabled={busy !== null} onClick={() => setProposing(true)}>
            {t('workspace.schedule.propose')}
          </Button>
          <Button
            size="xs"
            variant="subtle"
            color="red"
            loading={busy === 'decline'}
            disabled={busy !== null}
            onClick={() => void act('decline')}
          >
            {t('workspace.schedule.decline')}
          </Button>
        </Group>
      )}
      {error !== null && (
        <Text size="sm" c="red" role="alert">
          {error}
        </Text>
      )}
      {proposing && <ProposeModal a={a} onClose={() => setProposing(false)} />}
    </Stack>
  );
}

function ProposeModal(props: { readonly a: AppointmentView; readonly onClose: () => void }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const r = props.a.record;
  const minutes = Math.max(5, Math.round((Date.parse(r.endAt) - Date.parse(r.startAt)) / 60_000));
  const [start, setStart] = useState(dayjs(r.startAt).add(1, 'day').format('YYYY-MM-DDTHH:mm'));
  const [length, setLength] = useState(String(minutes));
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (): Promise<void> => {
    const at = dayjs(start);
    if (!at.isValid()) {
      setError(t('fieldError.date'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await session.care.appointments.propose(
        r.id,
        { startAt: at.toISOString(), endAt: at.add(Number(length), 'minute').toISOString() },
        note.trim() === '' ? {} : { note: note.trim() },
      );
      props.onClose();
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      opened
      onClose={props.onClose}
      title={t('workspace.schedule.proposeTitle')}
      closeButtonProps={{ 'aria-label': t('common.close') }}
    >
      <Stack>
        <TextInput
          type="datetime-local"
          label={t('workspace.schedule.newTime')}
          value={start}
          onChange={(e) => setStart(e.currentTarget.value)}
        />
        <NativeSelect
          label={t('workspace.schedule.length')}
          value={length}
          onChange={(e) => setLength(e.currentTarget.value)}
          data={[...new Set(['15', '20', '30', '45', '60', '90', String(minutes)])].map((m) => ({
            value: m,
            label: t('workspace.schedule.minutes', { count: Number(m) }),
          }))}
        />
        <Textarea
          label={t('workspace.schedule.noteToPatient')}
          autosize
          minRows={2}
          value={note}
          onChange={(e) => setNote(e.currentTarget.value)}
        />
        {error !== null && (
          <Text size="sm" c="red" role="alert">
            {error}
          </Text>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            {t('common.cancel')}
          </Button>
          <Button loading={busy} onClick={() => void send()}>
            {t('workspace.schedule.sendProposal')}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
