/**
 * Home (`/`): what matters now, from this device's store. Problems, when there are any, first; then the next
 * steps, ranked (next-steps.ts), first at every width; then allergies, active problems, active medications,
 * upcoming appointments, the latest result of each lab test (out-of-range flagged), unread messages, plans
 * awaiting acknowledgement.
 */
import { useEffect, useState, type ReactNode } from 'react';
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  Paper,
  SimpleGrid,
  Skeleton,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { RecordOf, StoredRecord } from '@hale/client';
import { Link } from 'react-router';
import {
  useAccessLog,
  useGrants,
  useQuarantine,
  useRecords,
  useSyncIssues,
  useUnsent,
  useHaleSession,
} from '@hale/react';
import { openingScreenDrawn } from '../../boot/opening-screen';
import { formatDate } from '../../records/format';
import { flagIn, parseRange } from '../labs/range';
import { useLatestLabs } from './latest-labs';
import { problemIssues } from '../problems/describe';
import { isActiveCondition, labValueText } from '../../records/clinical';
import { threadPath } from '../../care/messages/paths';
import { nextSteps } from './next-steps';
import { NextStepsCard, WeeklyAccess } from './next-steps-card';
import { accessStory, weekOf } from '../../care/access/story';
import { holdersOf } from '../../care/share/grant-state';
import { usePersonName } from '../../care/people';
import { trendsOf } from '../../workspace/labs/lab-trend';
import { TrendWords } from '../../workspace/labs/trend-words';

function Card(props: {
  readonly title: string;
  readonly to: string;
  readonly count?: number;
  readonly empty: string;
  readonly children: ReactNode;
  readonly testId: string;
  /** The store has not answered yet: neither "none" nor a partial list is shown. */
  readonly loading?: boolean;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <Paper withBorder p="md" data-testid={props.testId} aria-busy={props.loading === true}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="nowrap">
          <Title order={2} size="h4">
            {props.title}
            {props.count !== undefined && props.count > 0 && (
              <Badge ml={8} variant="light" size="sm">
                {props.count}
              </Badge>
            )}
          </Title>
          <Anchor component={Link} to={props.to} size="sm" style={{ whiteSpace: 'nowrap' }}>
            {t('home.seeAll')}
          </Anchor>
        </Group>
        {props.loading === true ? (
          <Stack gap={8} aria-hidden>
            <Skeleton height={14} width="70%" />
            <Skeleton height={14} width="50%" />
          </Stack>
        ) : props.count === 0 ? (
          <Text size="sm" c="dimmed">
            {props.empty}
          </Text>
        ) : (
          props.children
        )}
      </Stack>
    </Paper>
  );
}

/** The next steps card over this chart's immunizations and encounters (read when it mounts). */
function HomeNextSteps(props: {
  readonly plans: readonly StoredRecord<'TreatmentPlan'>[];
  readonly appointments: readonly StoredRecord<'Appointment'>[];
  readonly labs: readonly StoredRecord<'LabResult'>[];
  /** The chart holds no lab result, allergy, medication or condition. */
  readonly noOtherRecord: boolean;
  readonly extra: ReactNode;
}): ReactNode {
  const immunizations = useRecords('Immunization', {});
  const encounters = useRecords('Encounter', {});
  const steps = nextSteps(
    {
      immunizations: immunizations.items,
      plans: props.plans,
      appointments: props.appointments,
      encounters: encounters.items,
      labs: props.labs.map((l) => l.record),
      empty: props.noOtherRecord && immunizations.total === 0,
    },
    Date.now(),
  );
  return (
    <NextStepsCard
      steps={steps}
      loading={immunizations.loading === true || encounters.loading === true}
      extra={props.extra}
    />
  );
}

export function HomeScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const profile = useRecords('Profile', {}).items[0]?.record;
  const allergyPage = useRecords('Allergy', { sort: 'clinical' });
  const medicationPage = useRecords('Medication', { sort: 'clinical' });
  const conditionPage = useRecords('Condition', { sort: 'clinical' });
  const allergies = allergyPage.items.filter((a) => a.record.active);
  const medications = medicationPage.items.filter((m) => m.record.active);
  const conditions = conditionPage.items.filter((c) => isActiveCondition(c.record));
  const appointments = useRecords('Appointment', { sort: 'clinical', order: 'asc' });
  // The newest result of each of the six most recent tests (latest-labs.ts).
  const labs = useLatestLabs();
  const latestLabs = labs.items;
  const messages = useRecords('Message', {});
  const plans = useRecords('TreatmentPlan', {});
  // Enough to tell whether a plan's re-check was done: the newest results by the day they were taken.
  const recentLabs = useRecords('LabResult', { sort: 'clinical', limit: 200 });
  const issues = useSyncIssues();
  const quarantine = useQuarantine();
  const unsent = useUnsent();

  // Which way each latest result moved from the one before it (the recent results hold that one).
  const trends = trendsOf(recentLabs.items.map((i) => i.record));
  const now = new Date().toISOString();
  const upcoming = appointments.items
    .filter((a) => a.record.status === 'scheduled' && a.record.endAt >= now)
    .slice(0, 5);
  const unread = messages.items.filter((m) => m.record.recipientId === me && m.record.readAt === undefined);
  const awaiting = plans.items.filter(
    (p) => p.record.status === 'active' && p.record.acknowledgement?.version !== p.record.version,
  );
  const problems = problemIssues(issues).length + quarantine.length + unsent.length;
  // The cards first: next steps read every immunization and encounter once these have loaded.
  const loading =
    labs.loading ||
    [allergyPage, medicationPage, conditionPage, appointments, messages, plans].some(
      (p) => p.loading === true,
    );
  // The week's access is read once the home is drawn (it asks the audit log), for a patient's own chart.
  const [drawn, setDrawn] = useState(false);
  useEffect(() => {
    if (loading) return;
    openingScreenDrawn();
    setDrawn(true);
  }, [loading]);

  return (
    <Stack>
      <div>
        <Title order={1} size="h2">
          {profile?.fullName === undefined ? t('home.title') : t('home.hello', { name: profile.fullName })}
        </Title>
        <Text c="dimmed" size="sm">
          {t('home.subtitle')}
        </Text>
      </div>
      {problems > 0 && (
        <Alert color="orange" title={t('home.problems', { count: problems })}>
          <Button component={Link} to="/problems" size="xs" variant="white" color="orange">
            {t('home.seeProblems')}
          </Button>
        </Alert>
      )}
      {loading ? (
        <NextStepsCard steps={[]} loading extra={null} />
      ) : (
        <HomeNextSteps
          plans={plans.items}
          appointments={appointments.items}
          labs={recentLabs.items}
          noOtherRecord={
            latestLabs.length === 0 &&
            [allergyPage, medicationPage, conditionPage].every((p) => p.total === 0)
          }
          extra={drawn && session.account.role === 'patient' ? <WeekAccess /> : null}
        />
      )}
      <SimpleGrid cols={{ base: 1, md: 2, xl: 3 }}>
        <Card
          title={t('kinds.allergies.title')}
          to="/chart/allergies"
          count={allergies.length}
          empty={t('home.noAllergies')}
          testId="home-allergies"
          loading={allergyPage.loading === true}
        >
          {allergies.slice(0, 6).map((a) => (
            <Group key={a.record.id} justify="space-between" wrap="nowrap">
              <Anchor component={Link} to={`/chart/allergies/${a.record.id}`} fw={600}>
                {a.record.substance}
              </Anchor>
              {a.record.severity !== undefined && (
                <Badge
                  color={
                    a.record.severity === 'severe'
                      ? 'red'
                      : a.record.severity === 'moderate'
                        ? 'orange'
                        : 'yellow'
                  }
                  variant="light"
                >
                  {t(`enum.severity.${a.record.severity}`)}
                </Badge>
              )}
            </Group>
          ))}
        </Card>
        <Card
          title={t('home.activeProblems')}
          to="/chart/conditions"
          count={conditions.length}
          empty={t('home.noProblems')}
          testId="home-conditions"
          loading={conditionPage.loading === true}
        >
          {conditions.slice(0, 6).map((c) => (
            <Group key={c.record.id} justify="space-between" wrap="nowrap">
              <Anchor component={Link} to={`/chart/conditions/${c.record.id}`} fw={600}>
                {c.record.name}
              </Anchor>
              {c.record.onsetDate !== undefined && (
                <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                  {formatDate(c.record.onsetDate)}
                </Text>
              )}
            </Group>
          ))}
        </Card>
        <Card
          title={t('home.activeMedications')}
          to="/chart/medications"
          count={medications.length}
          empty={t('home.noMedications')}
          testId="home-medications"
          loading={medicationPage.loading === true}
        >
          {medications.slice(0, 6).map((m) => (
            <div key={m.record.id}>
              <Anchor component={Link} to={`/chart/medications/${m.record.id}`} fw={600}>
                {m.record.name}
              </Anchor>
              <Text size="sm" c="dimmed">
                {[m.record.dose, m.record.frequency].filter(Boolean).join(' · ')}
              </Text>
            </div>
          ))}
        </Card>
        <Card
          title={t('home.upcoming')}
          to="/care/appointments"
          count={upcoming.length}
          empty={t('home.noAppointments')}
          testId="home-appointments"
          loading={appointments.loading === true}
        >
          {upcoming.map((a) => (
            <UpcomingLine key={a.record.id} appointment={a.record} />
          ))}
        </Card>
        <Card
          title={t('home.latestLabs')}
          to="/labs/trends"
          count={latestLabs.length}
          empty={t('home.noLabs')}
          testId="home-labs"
          loading={labs.loading}
        >
          {latestLabs.map((l) => {
            const f = flagIn(l.record.value, l.record.units, parseRange(l.record.referenceRange));
            const trend = trends.get(l.record.id);
            return (
              <Group key={l.record.id} justify="space-between" wrap="nowrap">
                <div style={{ minWidth: 0 }}>
                  <Anchor component={Link} to={`/chart/labs/${l.record.id}`} fw={600}>
                    {l.record.testName}
                  </Anchor>
                  <Text size="sm" c="dimmed">
                    {formatDate(l.record.effectiveAt)}
                    {trend !== undefined && (
                      <span data-testid="home-lab-trend">
                        {' · '}
                        <TrendWords trend={trend} />
                      </span>
                    )}
                  </Text>
                </div>
                <Group gap={6} wrap="nowrap">
                  <Text fw={600}>{labValueText(l.record)}</Text>
                  {(f === 'high' || f === 'low') && (
                    <Badge color="red" variant="filled" data-testid="out-of-range">
                      {t(`trends.flag.${f}`)}
                    </Badge>
                  )}
                </Group>
              </Group>
            );
          })}
        </Card>
        <Card
          title={t('home.unread')}
          to="/care/messages"
          count={unread.length}
          empty={t('home.noUnread')}
          testId="home-messages"
          loading={messages.loading === true}
        >
          {unread.slice(0, 5).map((m) => (
            <Anchor
              key={m.record.id}
              component={Link}
              to={threadPath(m.record.patientId, m.record.threadId)}
              size="sm"
              lineClamp={2}
              display="block"
            >
              {formatDate(m.record.sentAt)}: {m.record.body}
            </Anchor>
          ))}
        </Card>
        <Card
          title={t('home.plansAwaiting')}
          to="/care/plans"
          count={awaiting.length}
          empty={t('home.noPlans')}
          testId="home-plans"
          loading={plans.loading === true}
        >
          {awaiting.map((p) => (
            <Anchor
              key={p.record.id}
              component={Link}
              to={`/care/plans/${p.record.id}`}
              fw={600}
              display="block"
            >
              {p.record.summary}
            </Anchor>
          ))}
        </Card>
      </SimpleGrid>
    </Stack>
  );
}

function WeekAccess(): ReactNode {
  const access = useAccessLog();
  const holders = holdersOf(useGrants());
  if (access === null) return null;
  const lines = accessStory(access.records, (actor) => holders.has(actor));
  return <WeeklyAccess week={weekOf(lines, Date.now())} />;
}

/** An upcoming appointment: its day, with whom, why and where. */
function UpcomingLine(props: { readonly appointment: RecordOf<'Appointment'> }): ReactNode {
  const { t } = useTranslation();
  const a = props.appointment;
  const who = usePersonName(a.providerId);
  return (
    <div>
      <Anchor component={Link} to={`/care/appointments?focus=${a.id}`} fw={600}>
        {formatDate(a.startAt)}
      </Anchor>
      <Text size="sm" c="dimmed">
        {[t('home.withWhom', { who }), a.reason, a.location].filter(Boolean).join(' · ')}
      </Text>
    </div>
  );
}
