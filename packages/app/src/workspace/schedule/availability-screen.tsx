/**
 * Publish availability (`/workspace/schedule/availability`): weekly hours in the clinic's time zone, the
 * slot length, exceptions (a day closed, or other hours), the dates offered and the place. Published as a
 * document signed by this account's key (`care.availability.publish`): patients read it without a grant
 * and book its free slots, offline too; times confirmed are published again as busy, saying nothing of
 * with whom. The form opens with what is published (read from the directory), or weekday office hours.
 */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Checkbox,
  Group,
  NativeSelect,
  Paper,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { isHaleError } from '@hale/client';
import { useHaleSession } from '@hale/react';
import { dayjs } from '../../boot/dayjs';
import { formatWeekday } from '../../boot/dates';
import { PageHeader } from '../../ui/page-header';
import { errorText } from '../ui';
import {
  defaultForm,
  fromPublished,
  refusedRow,
  rowKey,
  toInput,
  type AvailabilityForm,
  type ExceptionRow,
  type HoursRow,
} from './availability-form';

const SLOT_LENGTHS = ['10', '15', '20', '30', '45', '60'];
const deviceZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;
const zones = (): string[] => {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return [deviceZone()];
  }
};

export function AvailabilityScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const [form, setForm] = useState<AvailabilityForm | null>(null);
  const [loadNote, setLoadNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ text: string; part: string; key?: string } | null>(null);
  const [published, setPublished] = useState<{ version: number; slots: number | null } | null>(null);
  useEffect(() => {
    let live = true;
    const fallback = defaultForm(deviceZone(), dayjs().format('YYYY-MM-DD'));
    session.care.availability.read(me).then(
      (a) => live && setForm(fromPublished(a)),
      (e: unknown) => {
        if (!live) return;
        setForm(fallback);
        if (!isHaleError(e, 'NO_AVAILABILITY')) setLoadNote(t('workspace.availability.notRead'));
      },
    );
    return () => {
      live = false;
    };
  }, [session, me, t]);
  const zoneList = useMemo(() => zones(), []);
  if (form === null) return <Text>{t('common.loading')}</Text>;

  const patch = (p: Partial<AvailabilityForm>): void => setForm({ ...form, ...p });
  const setHours = (key: string, p: Partial<HoursRow>): void =>
    patch({ weekly: form.weekly.map((w) => (w.key === key ? { ...w, ...p } : w)) });
  const setException = (key: string, p: Partial<ExceptionRow>): void =>
    patch({ exceptions: form.exceptions.map((x) => (x.key === key ? { ...x, ...p } : x)) });

  const publish = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setPublished(null);
    try {
      const doc = await session.care.availability.publish(toInput(form));
      const slots = await session.care.appointments
        .slots(me, { until: dayjs().add(14, 'day').toISOString() })
        .then((s) => s.length)
        .catch(() => null);
      setPublished({ version: doc.version, slots });
    } catch (e) {
      const row = isHaleError(e) ? refusedRow(form, e.field) : { part: 'other' as const };
      setError({
        part: row.part,
        text: isHaleError(e, 'INVALID_INPUT')
          ? t(`workspace.availability.refused.${row.part}`)
          : errorText(t, e),
        ...(row.key === undefined ? {} : { key: row.key }),
      });
    } finally {
      setBusy(false);
    }
  };

  const dayOptions = [1, 2, 3, 4, 5, 6, 7].map((d) => ({
    value: String(d),
    label: formatWeekday(d),
  }));
  return (
    <Stack maw={900}>
      <PageHeader title={t('workspace.availability.title')} back="/workspace/schedule" />
      <Text size="sm" c="dimmed">
        {t('workspace.availability.explain')}
      </Text>
      {loadNote !== null && (
        <Alert color="yellow" variant="light">
          {loadNote}
        </Alert>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <Stack>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <NativeSelect
              id="availability-zone"
              label={t('workspace.availability.zone')}
              value={form.timeZone}
              onChange={(e) => patch({ timeZone: e.currentTarget.value })}
              data={zoneList}
            />
            <NativeSelect
              id="availability-slot"
              label={t('workspace.availability.slot')}
              value={form.slotMinutes}
              onChange={(e) => patch({ slotMinutes: e.currentTarget.value })}
              data={SLOT_LENGTHS.map((m) => ({
                value: m,
                label: t('workspace.schedule.minutes', { count: Number(m) }),
              }))}
            />
            <TextInput
              id="availability-from"
              type="date"
              label={t('workspace.availability.from')}
              value={form.from}
              onChange={(e) => patch({ from: e.currentTarget.value })}
              error={error?.part === 'dates' ? t('workspace.availability.refused.dates') : undefined}
            />
            <TextInput
              id="availability-until"
              type="date"
              label={t('workspace.availability.until')}
              value={form.until}
              onChange={(e) => patch({ until: e.currentTarget.value })}
            />
          </SimpleGrid>
          <TextInput
            id="availability-location"
            label={t('fields.location')}
            description={t('workspace.availability.locationHint')}
            value={form.location}
            onChange={(e) => patch({ location: e.currentTarget.value })}
          />
          <Title order={2} size="h4">
            {t('workspace.availability.weekly')}
          </Title>
          {form.weekly.map((w, i) => (
            <Group key={w.key} align="flex-end" gap="xs" wrap="wrap" data-testid={`hours-${i}`}>
              <NativeSelect
                label={t('workspace.availability.day')}
                value={String(w.day)}
                onChange={(e) => setHours(w.key, { day: Number(e.currentTarget.value) })}
                data={dayOptions}
                w={{ base: '100%', sm: 150 }}
              />
              <OpeningHours
                from={w.from}
                to={w.to}
                onChange={(change) => setHours(w.key, change)}
                error={error?.key === w.key ? t('workspace.availability.endAfterStart') : undefined}
              />
              <RemoveRow
                label={t('workspace.availability.removeHours')}
                onClick={() => patch({ weekly: form.weekly.filter((x) => x.key !== w.key) })}
              />
            </Group>
          ))}
          <Button
            variant="light"
            w="fit-content"
            leftSection={<IconPlus size={16} />}
            onClick={() =>
              patch({ weekly: [...form.weekly, { key: rowKey(), day: 1, from: '09:00', to: '12:00' }] })
            }
          >
            {t('workspace.availability.addHours')}
          </Button>
          <Title order={2} size="h4">
            {t('workspace.availability.exceptions')}
          </Title>
          <Text size="sm" c="dimmed">
            {t('workspace.availability.exceptionsExplain')}
          </Text>
          {form.exceptions.map((x) => (
            <Group key={x.key} align="flex-end" gap="xs" wrap="wrap">
              <TextInput
                type="date"
                label={t('workspace.availability.date')}
                value={x.date}
                onChange={(e) => setException(x.key, { date: e.currentTarget.value })}
                w={170}
                error={error?.key === x.key ? t('workspace.availability.badException') : undefined}
              />
              <Checkbox
                label={t('workspace.availability.closed')}
                checked={x.closed}
                onChange={(e) => setException(x.key, { closed: e.currentTarget.checked })}
                mb={8}
              />
              {!x.closed && (
                <OpeningHours from={x.from} to={x.to} onChange={(change) => setException(x.key, change)} />
              )}
              <RemoveRow
                label={t('workspace.availability.removeException')}
                onClick={() => patch({ exceptions: form.exceptions.filter((y) => y.key !== x.key) })}
              />
            </Group>
          ))}
          <Button
            variant="light"
            w="fit-content"
            leftSection={<IconPlus size={16} />}
            onClick={() =>
              patch({
                exceptions: [
                  ...form.exceptions,
                  {
                    key: rowKey(),
                    date: dayjs().add(7, 'day').format('YYYY-MM-DD'),
                    closed: true,
                    from: '09:00',
                    to: '12:00',
                  },
                ],
              })
            }
          >
            {t('workspace.availability.addException')}
          </Button>
          {error !== null && (
            <Alert color="red" role="alert" title={t('workspace.availability.notPublished')}>
              {error.text}
            </Alert>
          )}
          {published !== null && (
            <Alert color="teal" role="status" data-testid="availability-published">
              {published.slots === null
                ? t('workspace.availability.published', { version: published.version })
                : t('workspace.availability.publishedSlots', { count: published.slots })}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button loading={busy} onClick={() => void publish()}>
              {t('workspace.availability.publish')}
            </Button>
          </Group>
        </Stack>
      </Paper>
    </Stack>
  );
}

/** A row's opening and closing times (`HH:mm`, the clinician's zone). */
function OpeningHours(props: {
  readonly from: string;
  readonly to: string;
  readonly onChange: (change: { from?: string; to?: string }) => void;
  readonly error?: string | undefined;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <>
      <TextInput
        type="time"
        label={t('workspace.availability.opens')}
        value={props.from}
        onChange={(e) => props.onChange({ from: e.currentTarget.value })}
        w={150}
        error={props.error}
      />
      <TextInput
        type="time"
        label={t('workspace.availability.closes')}
        value={props.to}
        onChange={(e) => props.onChange({ to: e.currentTarget.value })}
        w={150}
      />
    </>
  );
}

function RemoveRow(props: { readonly label: string; readonly onClick: () => void }): ReactNode {
  return (
    <Button variant="subtle" color="red" aria-label={props.label} onClick={props.onClick}>
      <IconTrash size={18} />
    </Button>
  );
}
