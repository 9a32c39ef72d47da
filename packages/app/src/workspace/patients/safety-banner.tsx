/**
 * The chart's safety banner, above every page of a patient's chart (patient-layout.tsx): the allergies
 * (severity, criticality, unconfirmed ones said so; a severe or high-risk one marked in red), the active
 * medications and the active problems, each saying in words when the grant does not share it, when none
 * is recorded, or that the patient recorded no known allergies (banner-state.ts). On a phone it folds to
 * one summary line; the severe and high-risk allergies stay shown when it is folded.
 *
 * Invariants: a kind outside the grant is never read here (its part renders no hook); a part shows no
 * "none" before the store has answered or while the sync catches up; at most SHOWN records a part, the
 * rest behind a link to its tab.
 */
import { useId, type ReactNode } from 'react';
import {
  Anchor,
  Badge,
  Collapse,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Text,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import { IconAlertTriangle, IconChevronDown, IconChevronUp, IconLock } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { TFunction } from 'i18next';
import type { ReceivedGrant } from '@hale/client';
import type { RecordOf } from '@hale/model';
import { useInitialSync, useRecords } from '@hale/react';
import { canRead, chartBase } from './grant';
import { allergyPart, isSevere, medicationPart, problemPart, severeOf, type Part } from './banner-state';

const SHOWN = 5;

type Allergy = RecordOf<'Allergy'>;
type Medication = RecordOf<'Medication'>;
type Condition = RecordOf<'Condition'>;

interface Parts {
  readonly allergies: Part<Allergy>;
  readonly medications: Part<Medication>;
  readonly problems: Part<Condition>;
}

export function SafetyBanner(props: {
  readonly patientId: string;
  readonly grant: ReceivedGrant;
}): ReactNode {
  const { patientId, grant } = props;
  // While the sync catches up, a part with nothing yet says it is loading, not that there is none.
  const catchingUp = !useInitialSync().complete;
  const shared = {
    allergies: canRead(grant, 'Allergy'),
    medications: canRead(grant, 'Medication'),
    problems: canRead(grant, 'Condition'),
  };
  // Each kind is read only where it is shared: a hook per shared kind, in a reader mounted for it.
  return (
    <Read kind="Allergy" patientId={patientId} shared={shared.allergies}>
      {(allergies) => (
        <Read kind="Medication" patientId={patientId} shared={shared.medications}>
          {(medications) => (
            <Read kind="Condition" patientId={patientId} shared={shared.problems}>
              {(problems) => (
                <Banner
                  patientId={patientId}
                  parts={{
                    allergies: allergyPart({ shared: shared.allergies, ...held(allergies, catchingUp) }),
                    medications: medicationPart({
                      shared: shared.medications,
                      ...held(medications, catchingUp),
                    }),
                    problems: problemPart({ shared: shared.problems, ...held(problems, catchingUp) }),
                  }}
                />
              )}
            </Read>
          )}
        </Read>
      )}
    </Read>
  );
}

interface Answer<T> {
  readonly items: readonly T[];
  readonly loading: boolean;
}

const held = <T,>(answer: Answer<T>, catchingUp: boolean): Answer<T> => ({
  items: answer.items,
  loading: answer.loading || catchingUp,
});

type BannerKind = 'Allergy' | 'Medication' | 'Condition';

function Read<K extends BannerKind>(props: {
  readonly kind: K;
  readonly patientId: string;
  readonly shared: boolean;
  readonly children: (answer: Answer<RecordOf<K>>) => ReactNode;
}): ReactNode {
  if (!props.shared) return props.children({ items: [], loading: false });
  return <Reader {...props} />;
}

function Reader<K extends BannerKind>(props: {
  readonly kind: K;
  readonly patientId: string;
  readonly children: (answer: Answer<RecordOf<K>>) => ReactNode;
}): ReactNode {
  const page = useRecords(props.kind, { patientId: props.patientId });
  return props.children({ items: page.items.map((s) => s.record), loading: page.loading === true });
}

function Banner(props: { readonly patientId: string; readonly parts: Parts }): ReactNode {
  const { t } = useTranslation();
  const phone = useMediaQuery('(max-width: 48em)', false, { getInitialValueInEffect: false });
  const [open, { toggle }] = useDisclosure(false);
  const detailsId = useId();
  const { parts } = props;
  const severe = severeOf(parts.allergies);
  const base = chartBase(props.patientId);
  const grid = (
    <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="md" verticalSpacing="sm">
      <PartView
        testId="banner-allergies"
        title={t('workspace.banner.allergies')}
        part={parts.allergies}
        more={`${base}/allergies`}
        item={(a) => <AllergyItem allergy={a} />}
      />
      <PartView
        testId="banner-medications"
        title={t('workspace.banner.medications')}
        part={parts.medications}
        more={`${base}/medications`}
        item={(m) => (
          <Text size="sm">
            <Text span fw={600} size="sm">
              {m.name}
            </Text>
            {[m.dose, m.frequency].some((x) => x !== undefined && x !== '') && (
              <Text span c="dimmed" size="sm">
                {' · '}
                {[m.dose, m.frequency].filter((x) => x !== undefined && x !== '').join(' ')}
              </Text>
            )}
          </Text>
        )}
      />
      <PartView
        testId="banner-problems"
        title={t('workspace.banner.problems')}
        part={parts.problems}
        more={`${base}/conditions`}
        item={(c) => (
          <Text size="sm" fw={600}>
            {c.name}
          </Text>
        )}
      />
    </SimpleGrid>
  );
  return (
    <Paper
      component="section"
      aria-label={t('workspace.banner.label')}
      withBorder
      p={phone ? 'xs' : 'sm'}
      data-testid="safety-banner"
      data-severe={severe.length > 0 ? 'true' : 'false'}
      style={severe.length > 0 ? { borderLeft: '6px solid var(--mantine-color-red-filled)' } : undefined}
    >
      {phone ? (
        <Stack gap={6}>
          <UnstyledButton
            onClick={toggle}
            aria-expanded={open}
            aria-controls={detailsId}
            data-testid="banner-toggle"
            style={{ minHeight: 44 }}
          >
            <Group justify="space-between" wrap="nowrap" gap="xs">
              <Text component="span" size="sm">
                <Text span fw={700} size="sm">
                  {t('workspace.banner.title')}
                </Text>
                {' · '}
                {summaryLine(t, parts)}
              </Text>
              {open ? <IconChevronUp size={18} aria-hidden /> : <IconChevronDown size={18} aria-hidden />}
            </Group>
          </UnstyledButton>
          {!open && severe.length > 0 && (
            <Stack gap={4} data-testid="banner-severe">
              {severe.map((a) => (
                <AllergyItem key={a.id} allergy={a} />
              ))}
            </Stack>
          )}
          <Collapse expanded={open} id={detailsId}>
            {grid}
          </Collapse>
        </Stack>
      ) : (
        grid
      )}
    </Paper>
  );
}

/** The folded banner's line: each part in a word or a count. */
const summaryLine = (t: TFunction, parts: Parts): string =>
  (
    [
      ['allergies', parts.allergies],
      ['medications', parts.medications],
      ['problems', parts.problems],
    ] as const
  )
    .map(([name, part]) => {
      const what =
        part.state === 'list' ? String(part.items.length) : t(`workspace.banner.brief.${part.state}`);
      return `${t(`workspace.banner.short.${name}`)}: ${what}`;
    })
    .join(' · ');

function PartView<T extends { readonly id: string }>(props: {
  readonly testId: string;
  readonly title: string;
  readonly part: Part<T>;
  readonly more: string;
  readonly item: (record: T) => ReactNode;
}): ReactNode {
  const { t } = useTranslation();
  const { part } = props;
  return (
    <Stack gap={4} data-testid={props.testId} data-state={part.state} style={{ minWidth: 0 }}>
      <Title order={2} size="h6" c="dimmed" tt="uppercase" fw={700}>
        {props.title}
      </Title>
      {part.state === 'list' ? (
        <>
          {part.items.slice(0, SHOWN).map((r) => (
            <div key={r.id}>{props.item(r)}</div>
          ))}
          {part.items.length > SHOWN && (
            <Anchor component={Link} to={props.more} size="sm">
              {t('workspace.banner.more', { count: part.items.length - SHOWN })}
            </Anchor>
          )}
        </>
      ) : (
        <Group gap={6} wrap="nowrap">
          {part.state === 'not-shared' && <IconLock size={16} aria-hidden />}
          {part.state === 'no-known' ? (
            <Text size="sm" fw={600}>
              {t('workspace.banner.state.no-known')}
            </Text>
          ) : (
            <Text size="sm" c="dimmed">
              {t(`workspace.banner.state.${part.state}`)}
            </Text>
          )}
        </Group>
      )}
    </Stack>
  );
}

/** One badge in the line of an allergy, sized and aligned with the text around it. */
function Mark(props: {
  readonly color: string;
  readonly filled: boolean;
  readonly children: string;
}): ReactNode {
  // A space before it: the words do not run together when read aloud.
  return (
    <>
      {' '}
      <Badge
        component="span"
        size="sm"
        color={props.color}
        variant={props.filled ? 'filled' : 'light'}
        style={{ verticalAlign: 'middle' }}
        styles={{ label: { overflow: 'visible' } }}
      >
        {props.children}
      </Badge>
    </>
  );
}

function AllergyItem(props: { readonly allergy: Allergy }): ReactNode {
  const { t } = useTranslation();
  const a = props.allergy;
  const severe = isSevere(a);
  return (
    <Group
      gap={6}
      wrap="nowrap"
      align="flex-start"
      data-severity={a.severity ?? 'unknown'}
      data-danger={severe ? 'true' : 'false'}
    >
      {severe && (
        <IconAlertTriangle
          size={18}
          color="var(--mantine-color-red-filled)"
          aria-hidden
          style={{ flexShrink: 0, marginTop: 2 }}
        />
      )}
      <Text size="sm" {...(severe ? { c: 'red' } : {})} style={{ minWidth: 0 }}>
        <Text span fw={700} size="sm">
          {a.substance}
        </Text>
        {a.reaction !== undefined && a.reaction !== '' && (
          <Text span size="sm" c={severe ? 'red' : 'dimmed'}>
            {` · ${a.reaction}`}
          </Text>
        )}
        {a.severity === undefined ? (
          <Text span size="sm" c="dimmed">
            {` (${t('workspace.banner.severityUnknown')})`}
          </Text>
        ) : (
          <Mark
            color={a.severity === 'severe' ? 'red' : a.severity === 'moderate' ? 'orange' : 'gray'}
            filled={a.severity === 'severe'}
          >
            {t(`enum.severity.${a.severity}`)}
          </Mark>
        )}
        {a.criticality !== undefined && (
          <Mark color={a.criticality === 'high' ? 'red' : 'gray'} filled={a.criticality === 'high'}>
            {t(`enum.allergyCriticality.${a.criticality}`)}
          </Mark>
        )}
        {a.verificationStatus === 'unconfirmed' && (
          <Mark color="yellow" filled={false}>
            {t('enum.allergyVerification.unconfirmed')}
          </Mark>
        )}
      </Text>
    </Group>
  );
}
