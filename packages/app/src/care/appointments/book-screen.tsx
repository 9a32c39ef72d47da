/**
 * Book or ask for an appointment (`/care/appointments/new`, `?with=<clinician>`): a free slot from the
 * clinician's published availability (signed by the clinician, checked on this device; offline, the one
 * checked last), or a request with a reason and up to three preferred times. Both need the clinician to
 * hold write access to the patient's appointments (the clinic answers in them); without it, the screen
 * says so and leads to sharing.
 *
 * Failure modes in words: no availability published (ask instead), a slot taken meanwhile, no grant,
 * offline with no availability checked before. What was typed stays. A preferred time outside the
 * clinician's published hours is warned about, not refused (a request asks).
 */
import { Fragment, useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Group,
  Loader,
  NativeSelect,
  Paper,
  SimpleGrid,
  Stack,
  Tabs,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { tell } from '../../ui/notice';
import { IconPlus, IconX } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { isHaleError, withinHours, type Availability, type Slot } from '@hale/client';
import { useGrants, useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { dropDraft, loadDraft, readDraft, saveDraft, type DraftValues } from '../../records/drafts';
import { careErrorText } from '../errors';
import { usePersonName } from '../people';
import { dayjs } from '../../boot/dayjs';
import { formatDay } from '../../boot/dates';
import { viewerZone } from './when';

const IN_FORCE = new Set(['active', 'expiring']);

export function BookScreen(): ReactNode {
  const { t } = useTranslation();
  const grants = useGrants();
  const [params] = useSearchParams();
  const clinicians = useMemo(() => {
    const write = new Set<string>();
    const any = new Set<string>();
    for (const g of grants) {
      if (!IN_FORCE.has(g.state)) continue;
      any.add(g.grant.granteeId);
      if (g.grant.scope.some((s) => s.type === 'appointment' && s.access === 'write'))
        write.add(g.grant.granteeId);
    }
    return { write: [...write], without: [...any].filter((id) => !write.has(id)) };
  }, [grants]);
  const [chosen, setChosen] = useState(params.get('with') ?? '');
  const providerId = clinicians.write.includes(chosen) ? chosen : clinicians.write[0];
  const [tab, setTab] = useState<string | null>('slots');

  return (
    <Stack maw={880}>
      <PageHeader title={t('care.book.title')} back="/care/appointments" />
      {clinicians.write.length === 0 ? (
        <Alert color="blue" title={t('care.book.needShareTitle')}>
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('care.book.needShare')}</Text>
            <Button
              component={Link}
              to={
                clinicians.without[0] === undefined
                  ? '/care/sharing/new'
                  : `/care/sharing/new?to=${clinicians.without[0]}`
              }
              size="xs"
            >
              {t('care.sharing.new')}
            </Button>
          </Stack>
        </Alert>
      ) : (
        <>
          <NativeSelect
            id="book-with"
            label={t('care.book.with')}
            value={providerId}
            onChange={(e) => setChosen(e.currentTarget.value)}
          >
            {clinicians.write.map((id) => (
              <ClinicianOption key={id} accountId={id} />
            ))}
          </NativeSelect>
          {providerId !== undefined && (
            <Tabs value={tab} onChange={setTab}>
              <Tabs.List>
                <Tabs.Tab value="slots">{t('care.book.slotsTab')}</Tabs.Tab>
                <Tabs.Tab value="request">{t('care.book.requestTab')}</Tabs.Tab>
              </Tabs.List>
              <Tabs.Panel value="slots" pt="md">
                <SlotPicker key={providerId} providerId={providerId} onAsk={() => setTab('request')} />
              </Tabs.Panel>
              <Tabs.Panel value="request" pt="md">
                <RequestForm key={providerId} providerId={providerId} />
              </Tabs.Panel>
            </Tabs>
          )}
        </>
      )}
    </Stack>
  );
}

function ClinicianOption(props: { readonly accountId: string }): ReactNode {
  return <option value={props.accountId}>{usePersonName(props.accountId)}</option>;
}

const DAYS_AHEAD = 28;

function SlotPicker(props: { readonly providerId: string; readonly onAsk: () => void }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const [slots, setSlots] = useState<readonly Slot[] | null>(null);
  const [loadError, setLoadError] = useState<{ text: string; none: boolean } | null>(null);
  const [picked, setPicked] = useState<Slot | null>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let live = true;
    setSlots(null);
    setLoadError(null);
    session.care.appointments
      .slots(props.providerId, { until: new Date(Date.now() + DAYS_AHEAD * 24 * 3_600_000).toISOString() })
      .then(
        (s) => live && setSlots(s),
        (e: unknown) =>
          live && setLoadError({ text: careErrorText(t, e), none: isHaleError(e, 'NO_AVAILABILITY') }),
      );
    return () => {
      live = false;
    };
  }, [session, props.providerId, t, round]);

  const days = useMemo(() => {
    // This device's zone is the viewer's: dayjs reads the UTC instants into it.
    const by = new Map<string, { label: string; slots: { slot: Slot; time: string }[] }>();
    for (const slot of slots ?? []) {
      const start = dayjs(slot.startAt);
      const key = start.format('YYYY-MM-DD');
      const day = by.get(key) ?? { label: formatDay(slot.startAt, { weekday: true }), slots: [] };
      day.slots.push({ slot, time: start.format('HH:mm') });
      by.set(key, day);
    }
    return [...by.values()];
  }, [slots]);

  const book = async (): Promise<void> => {
    if (picked === null) return;
    setBusy(true);
    setError(null);
    try {
      const made = await session.care.appointments.book(
        picked,
        reason.trim() === '' ? {} : { reason: reason.trim() },
      );
      tell({ color: 'green', message: t('care.book.booked') });
      void navigate(`/care/appointments?focus=${made.id}`);
    } catch (e) {
      setError(careErrorText(t, e));
      if (isHaleError(e, 'NOT_A_SLOT') || isHaleError(e, 'SLOT_TAKEN')) {
        setPicked(null);
        setRound((r) => r + 1);
      }
    } finally {
      setBusy(false);
    }
  };

  if (loadError !== null) {
    return (
      <Alert color={loadError.none ? 'blue' : 'orange'} role="alert">
        <Stack gap="xs" align="flex-start">
          <Text size="sm">{loadError.text}</Text>
          <Group gap="xs">
            {loadError.none && (
              <Button size="xs" onClick={props.onAsk}>
                {t('care.book.askInstead')}
              </Button>
            )}
            <Button size="xs" variant="default" onClick={() => setRound((r) => r + 1)}>
              {t('care.book.tryAgain')}
            </Button>
          </Group>
        </Stack>
      </Alert>
    );
  }
  if (slots === null) return <Loader aria-label={t('common.loading')} />;
  // Shown under the day of the time picked, so that a phone need not scroll past every day to book.
  const bookPanel =
    picked === null ? null : (
      <Paper withBorder p="md">
        <Stack gap="sm">
          <TextInput
            label={t('care.book.reason')}
            description={t('care.book.reasonHint')}
            value={reason}
            maxLength={1000}
            onChange={(e) => setReason(e.currentTarget.value)}
          />
          {error !== null && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <Button w="fit-content" loading={busy} onClick={() => void book()}>
            {t('care.book.book')}
          </Button>
        </Stack>
      </Paper>
    );
  return (
    <Stack>
      <Text size="sm" c="dimmed">
        {t('care.book.slotsExplain', { zone: viewerZone(), days: DAYS_AHEAD })}
      </Text>
      {picked === null && error !== null && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {days.length === 0 ? (
        <Alert color="blue">
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t('care.book.noSlots')}</Text>
            <Button size="xs" onClick={props.onAsk}>
              {t('care.book.askInstead')}
            </Button>
          </Stack>
        </Alert>
      ) : (
        <Stack gap="sm" data-testid="slots">
          {days.slice(0, 14).map((day) => (
            <Fragment key={day.label}>
              <Paper withBorder p="sm">
                <Text fw={650} mb={6} id={`day-${day.label}`}>
                  {day.label}
                </Text>
                <Group gap={6} role="group" aria-label={day.label}>
                  {day.slots.map(({ slot, time }) => {
                    const on = picked?.startAt === slot.startAt;
                    return (
                      <Button
                        key={slot.startAt}
                        size="xs"
                        variant={on ? 'filled' : 'default'}
                        aria-pressed={on}
                        data-testid="slot"
                        data-start={slot.startAt}
                        onClick={() => setPicked(slot)}
                      >
                        {time}
                      </Button>
                    );
                  })}
                </Group>
              </Paper>
              {day.slots.some((x) => x.slot.startAt === picked?.startAt) && bookPanel}
            </Fragment>
          ))}
        </Stack>
      )}
    </Stack>
  );
}

interface Preferred {
  readonly start: string;
  readonly minutes: string;
}

/** A request's typing as a draft's flat values (at most three times), and back. */
const draftOfRequest = (reason: string, times: readonly Preferred[]): DraftValues => {
  const values: Record<string, string> = { reason, count: String(times.length) };
  times.forEach((p, i) => {
    values[`start${i}`] = p.start;
    values[`minutes${i}`] = p.minutes;
  });
  return values;
};

const requestOfDraft = (values: DraftValues | undefined): { reason: string; times: readonly Preferred[] } => {
  const text = (k: string, fallback: string): string => {
    const v = values?.[k];
    return typeof v === 'string' ? v : fallback;
  };
  const count = Math.min(3, Math.max(1, Number(text('count', '1')) || 1));
  return {
    reason: text('reason', ''),
    times: Array.from({ length: count }, (_, i) => ({
      start: text(`start${i}`, ''),
      minutes: ['15', '30', '45', '60'].includes(text(`minutes${i}`, '30'))
        ? text(`minutes${i}`, '30')
        : '30',
    })),
  };
};

function RequestForm(props: { readonly providerId: string }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const draftKey = `appointment-request:${props.providerId}`;
  const [reason, setReasonState] = useState(() => requestOfDraft(readDraft(draftKey)).reason);
  const [times, setTimesState] = useState<readonly Preferred[]>(
    () => requestOfDraft(readDraft(draftKey)).times,
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tried, setTried] = useState(false);
  const [hours, setHours] = useState<Availability | null>(null);
  const clinicianName = usePersonName(props.providerId);
  useEffect(() => {
    // Only to warn: none published, or not reachable, warns of nothing.
    let live = true;
    session.care.availability.read(props.providerId).then(
      (a) => live && setHours(a),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [session, props.providerId]);
  const keep = (r: string, ts: readonly Preferred[]): void =>
    void saveDraft(session, draftKey, draftOfRequest(r, ts));
  const setReason = (r: string): void => {
    setReasonState(r);
    keep(r, times);
  };
  const setTimes = (ts: readonly Preferred[]): void => {
    setTimesState(ts);
    keep(reason, ts);
  };
  useEffect(() => {
    // After a reload or a lock: what was typed comes back from the device.
    let live = true;
    void loadDraft(session, draftKey).then((values) => {
      if (!live || values === undefined) return;
      const back = requestOfDraft(values);
      setReasonState((r) => (r === '' ? back.reason : r));
      setTimesState((ts) => (ts.every((p) => p.start === '') ? back.times : ts));
    });
    return () => {
      live = false;
    };
  }, [session, draftKey]);

  const windows = times.map((p) => {
    const start = new Date(p.start);
    return Number.isNaN(start.getTime())
      ? null
      : {
          startAt: start.toISOString(),
          endAt: new Date(start.getTime() + Number(p.minutes) * 60_000).toISOString(),
        };
  });
  const badTime = (i: number): string | undefined => {
    if (!tried) return undefined;
    const w = windows[i];
    if (w === null || w === undefined) return t('care.book.needTime');
    if (Date.parse(w.startAt) <= Date.now()) return t('care.book.timePast');
    return undefined;
  };
  const outside = (i: number): string | undefined => {
    const w = windows[i];
    if (hours === null || w === null || w === undefined || withinHours(hours, w)) return undefined;
    return t('care.book.outsideHours', { name: clinicianName });
  };

  const send = async (): Promise<void> => {
    setTried(true);
    if (windows.some((w) => w === null || Date.parse(w.startAt) <= Date.now())) return;
    setBusy(true);
    setError(null);
    try {
      const made = await session.care.appointments.request({
        providerId: props.providerId,
        preferredTimes: windows.filter((w): w is NonNullable<typeof w> => w !== null),
        timeZone: viewerZone(),
        ...(reason.trim() === '' ? {} : { reason: reason.trim() }),
      });
      void dropDraft(session, draftKey);
      tell({ color: 'green', message: t('care.book.requested') });
      void navigate(`/care/appointments?focus=${made.id}`);
    } catch (e) {
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack>
      <Textarea
        label={t('care.book.reason')}
        description={t('care.book.reasonHint')}
        value={reason}
        maxLength={1000}
        autosize
        minRows={2}
        onChange={(e) => setReason(e.currentTarget.value)}
      />
      <Title order={3} size="h5">
        {t('care.book.preferred', { zone: viewerZone() })}
      </Title>
      {times.map((p, i) => (
        <SimpleGrid key={i} cols={{ base: 1, sm: 3 }} verticalSpacing="xs">
          <TextInput
            type="datetime-local"
            id={`preferred-${i}`}
            label={t('care.book.startN', { n: i + 1 })}
            value={p.start}
            error={badTime(i)}
            description={outside(i)}
            inputWrapperOrder={['label', 'input', 'description', 'error']}
            onChange={(e) =>
              setTimes(times.map((x, j) => (j === i ? { ...x, start: e.currentTarget.value } : x)))
            }
          />
          <NativeSelect
            id={`preferred-${i}-length`}
            label={t('care.book.length')}
            value={p.minutes}
            data={['15', '30', '45', '60'].map((m) => ({
              value: m,
              label: t('care.book.minutes', { count: Number(m) }),
            }))}
            onChange={(e) =>
              setTimes(times.map((x, j) => (j === i ? { ...x, minutes: e.currentTarget.value } : x)))
            }
          />
          {times.length > 1 && (
            <Button
              variant="subtle"
              color="gray"
              mt={{ sm: 24 }}
              leftSection={<IconX size={14} />}
              onClick={() => setTimes(times.filter((_, j) => j !== i))}
              w="fit-content"
            >
              {t('care.book.removeTime')}
            </Button>
          )}
        </SimpleGrid>
      ))}
      {times.length < 3 && (
        <Button
          variant="subtle"
          w="fit-content"
          leftSection={<IconPlus size={14} />}
          onClick={() => setTimes([...times, { start: '', minutes: '30' }])}
        >
          {t('care.book.addTime')}
        </Button>
      )}
      {error !== null && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Button w="fit-content" loading={busy} onClick={() => void send()}>
        {t('care.book.send')}
      </Button>
    </Stack>
  );
}
