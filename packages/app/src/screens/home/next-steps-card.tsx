/**
 * Home's "Next steps" (next-steps.ts ranks them): each step a line with its rank said in words (overdue,
 * to acknowledge, this week, soon, to start) and a link to where it is done. Clinicians named by the
 * directory. Nothing to do: said so. The week's access (WeeklyAccess: who accessed the records in the last 7
 * days, what was unusual) is a line of its own, read once the home is drawn.
 */
import type { ReactNode } from 'react';
import { Anchor, Badge, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useDirectoryNames, usePersonName } from '../../care/people';
import type { weekOf } from '../../care/access/story';
import { formatDate } from '../../records/format';
import type { Rank, Step } from './next-steps';

const COLOUR: Record<Rank, string> = {
  overdue: 'red',
  acknowledge: 'orange',
  week: 'blue',
  recent: 'grape',
  soon: 'gray',
  start: 'teal',
};

export function NextStepsCard(props: {
  readonly steps: readonly Step[];
  readonly loading: boolean;
  /** A line after the ranked steps (the week's access), or null. */
  readonly extra?: ReactNode;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <Paper withBorder p="md" data-testid="home-next-steps" aria-busy={props.loading}>
      <Stack gap="xs">
        <Title order={2} size="h4">
          {t('home.next.title')}
        </Title>
        {props.loading ? null : props.steps.length === 0 ? (
          <Text size="sm" c="dimmed">
            {t('home.next.none')}
          </Text>
        ) : (
          <Stack component="ol" gap="xs" m={0} p={0} style={{ listStyle: 'none' }}>
            {props.steps.map((s) => (
              <li key={`${s.what}:${s.id}`} data-testid="next-step" data-rank={s.rank}>
                <Group gap="xs" wrap="nowrap" align="flex-start">
                  <Badge color={COLOUR[s.rank]} variant="light" miw={96} style={{ flexShrink: 0 }}>
                    {t(`home.next.rank.${s.rank}`)}
                  </Badge>
                  <StepLine step={s} />
                </Group>
              </li>
            ))}
          </Stack>
        )}
        {!props.loading && props.extra != null && (
          <Stack component="ul" gap="xs" m={0} p={0} style={{ listStyle: 'none' }}>
            {props.extra}
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}

function StepLine(props: { readonly step: Step }): ReactNode {
  const { t } = useTranslation();
  const s = props.step;
  const who = usePersonName(
    s.what === 'plan' ? s.by : s.what === 'appointment' || s.what === 'visit' ? s.with : undefined,
  );
  switch (s.what) {
    case 'dose':
      return (
        <Anchor component={Link} to={`/chart/immunizations/${s.id}`} size="sm">
          {t(s.rank === 'overdue' ? 'home.next.doseOverdue' : 'home.next.doseDue', {
            vaccine: s.vaccine,
            when: formatDate(s.due),
          })}
        </Anchor>
      );
    case 'recheck':
      return (
        <Anchor component={Link} to={`/care/plans/${s.id}`} size="sm">
          {t(s.rank === 'overdue' ? 'home.next.recheckOverdue' : 'home.next.recheckDue', {
            test: s.test,
            when: formatDate(s.due),
          })}
        </Anchor>
      );
    case 'plan':
      return (
        <Anchor component={Link} to={`/care/plans/${s.id}`} size="sm">
          {t('home.next.plan', { summary: s.summary, who })}
        </Anchor>
      );
    case 'appointment':
      return (
        <Anchor component={Link} to={`/care/appointments?focus=${s.id}`} size="sm">
          {t('home.next.appointment', { who, when: formatDate(s.at) })}
          {s.location === undefined ? '' : ` · ${s.location}`}
        </Anchor>
      );
    case 'visit':
      return (
        <Anchor component={Link} to={`/visits/${s.id}`} size="sm">
          {t('home.next.visit', { who, when: formatDate(s.at) })}
        </Anchor>
      );
    default:
      return (
        <Anchor
          component={Link}
          to={
            s.what === 'import'
              ? '/records/import'
              : s.what === 'emergency'
                ? '/emergency'
                : '/chart/allergies/new'
          }
          size="sm"
        >
          {t(`home.next.${s.what}`)}
        </Anchor>
      );
  }
}

/** This week's access, from the verified access log: who, and whether anything was unusual; null if none. */
export function WeeklyAccess(props: { readonly week: ReturnType<typeof weekOf> }): ReactNode {
  const { t, i18n } = useTranslation();
  const names = useDirectoryNames(props.week.people);
  const { people, links, unusual } = props.week;
  if (people.length === 0 && links === 0 && unusual === 0) return null;
  const list = new Intl.ListFormat(i18n.language, { type: 'conjunction' });
  const who = list.format([
    ...people.map((p) => names.get(p) ?? t('care.people.unknown')),
    ...(links > 0 ? [t('home.next.linkOpenings', { count: links })] : []),
  ]);
  return (
    <li data-testid="next-step" data-rank={unusual > 0 ? 'acknowledge' : 'week'}>
      <Group gap="xs" wrap="nowrap" align="flex-start">
        <Badge color={unusual > 0 ? 'orange' : 'blue'} variant="light" miw={96} style={{ flexShrink: 0 }}>
          {t(unusual > 0 ? 'home.next.rank.acknowledge' : 'home.next.rank.week')}
        </Badge>
        <Anchor component={Link} to="/care/access" size="sm" data-testid="weekly-access">
          {people.length === 0 && links === 0
            ? t('home.next.weeklyUnusualOnly', { count: unusual })
            : t('home.next.weeklyAccess', { who })}
          {unusual > 0 && (people.length > 0 || links > 0)
            ? ` ${t('home.next.weeklyUnusual', { count: unusual })}`
            : ''}
        </Anchor>
      </Group>
    </li>
  );
}
