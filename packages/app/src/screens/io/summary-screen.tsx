/**
 * The patient summary (`/records/summary`): the International Patient Summary this device builds from the
 * records it holds (no server involved), shown section by section, saved as a file (a FHIR document
 * Bundle), printed (summary-print.css), and shared with anyone through a link (the share screen).
 *
 * Each row: the entry's name; its facts (dose, frequency, route; reactions, severity, criticality; a value
 * or a status), labelled in the person's language; its date, labelled with what it is ("Onset" only when
 * an onset is recorded, else "Recorded" with the day it was written down) and as precise as recorded.
 */
import { Fragment, useEffect, useState, type ReactNode } from 'react';
import {
  Alert,
  Badge,
  Button,
  Group,
  Paper,
  SimpleGrid,
  Skeleton,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { IconDownload, IconPrinter, IconShare } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { Link } from 'react-router';
import type { Summary } from '@hale/client';
import { useApp } from '../../boot/app-state';
import { HTML_LANG } from '../../i18n/index';
import { PageHeader } from '../../ui/page-header';
import { saveBytes } from '../../ui/desktop-bridge';
import { FailureAlert } from './failure-alert';
import { ioFailure, type IoFailure } from './io-errors';
import { readSummary, type SummaryDate, type SummaryFact, type SummarySection } from './ips-read';
import { formatDateIn } from './date-in';
import { useHaleSession } from '@hale/react';
import './summary-print.css';

export const sectionTitle = (t: TFunction, section: { code: string | undefined; title: string }): string => {
  switch (section.code) {
    case '48765-2':
      return t('kinds.allergies.title');
    case '10160-0':
      return t('kinds.medications.title');
    case '11450-4':
      return t('summary.problems');
    case '11369-6':
      return t('kinds.immunizations.title');
    case '30954-2':
      return t('summary.results');
    case '47519-4':
      return t('kinds.procedures.title');
    default:
      return section.title;
  }
};

/** The person's language as a BCP 47 tag, for dates through Intl. */
const useLocale = (): string => HTML_LANG[useApp().settings.language];

function Fact(props: { readonly fact: SummaryFact }): ReactNode {
  const { t } = useTranslation();
  const { label, value, key } = props.fact;
  const shown = key === undefined ? value : t(key, { defaultValue: value });
  return (
    <>
      {label !== undefined && (
        <Text span size="sm" c="dimmed">
          {t(`summary.fact.${label}`)}{' '}
        </Text>
      )}
      {label === 'severity' ? (
        <Badge
          color={value === 'severe' ? 'red' : value === 'moderate' ? 'orange' : 'yellow'}
          variant={value === 'severe' ? 'filled' : 'light'}
        >
          {shown}
        </Badge>
      ) : (
        shown
      )}
    </>
  );
}

function When(props: { readonly date: SummaryDate | undefined }): ReactNode {
  const { t } = useTranslation();
  const locale = useLocale();
  const { date } = props;
  if (date === undefined) return null;
  return (
    <>
      <Text size="xs" c="dimmed">
        {t(`summary.date.${date.label}`)}
      </Text>
      <Text size="sm">{formatDateIn(date.value, locale, { day: date.label === 'recorded' })}</Text>
    </>
  );
}

function Section(props: { readonly section: SummarySection }): ReactNode {
  const { t } = useTranslation();
  const { section } = props;
  const title = sectionTitle(t, section);
  return (
    <Paper
      withBorder
      p="md"
      className="hale-summary-section"
      data-testid={`summary-section-${section.code ?? 'other'}`}
    >
      <Title order={2} size="h4" mb="xs">
        {title}
      </Title>
      {section.absent || section.rows.length === 0 ? (
        <Text c="dimmed" size="sm">
          {t('summary.noInformation')}
        </Text>
      ) : (
        <Table verticalSpacing={4} aria-label={title}>
          <Table.Tbody>
            {section.rows.slice(0, 200).map((row, i) => (
              <Table.Tr key={i} data-testid="summary-row">
                <Table.Td style={{ overflowWrap: 'anywhere', verticalAlign: 'top' }}>
                  <Text fw={600} size="sm">
                    {row.nameKey === undefined ? row.name : t(row.nameKey)}
                  </Text>
                  {row.facts.length > 0 && (
                    <Text size="sm" data-testid="summary-facts">
                      {row.facts.map((fact, j) => (
                        <Fragment key={j}>
                          {j > 0 && ' · '}
                          <Fact fact={fact} />
                        </Fragment>
                      ))}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td
                  w="9.5rem"
                  style={{ whiteSpace: 'nowrap', verticalAlign: 'top' }}
                  data-testid="summary-date"
                >
                  <When date={row.date} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {section.rows.length > 200 && (
        <Text size="sm" c="dimmed" mt={4}>
          {t('summary.more', { count: section.rows.length - 200 })}
        </Text>
      )}
    </Paper>
  );
}

export function SummaryScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const locale = useLocale();
  const [summary, setSummary] = useState<Summary | null>(null);
  const [failure, setFailure] = useState<IoFailure | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    session.io.patientSummary().then(
      (s) => live && setSummary(s),
      (e: unknown) => live && setFailure(ioFailure(t, e)),
    );
    return () => {
      live = false;
    };
  }, [session, t]);

  const download = async (): Promise<void> => {
    if (summary === null) return;
    const name = `patient-summary-${new Date().toISOString().slice(0, 10)}.json`;
    try {
      const outcome = await saveBytes(
        name,
        new TextEncoder().encode(JSON.stringify(summary.bundle, null, 2)),
        'application/fhir+json',
        { name: 'FHIR JSON', extensions: ['json'] },
      );
      setSaved(outcome === 'cancelled' ? null : name);
    } catch (e) {
      setFailure(ioFailure(t, e));
    }
  };

  const read = summary === null ? null : readSummary(summary.bundle);
  return (
    <Stack maw={980} className="hale-summary">
      <PageHeader
        title={t('summary.title')}
        actions={
          <>
            <Button
              variant="default"
              leftSection={<IconPrinter size={18} />}
              onClick={() => window.print()}
              disabled={read === null}
            >
              {t('summary.print')}
            </Button>
            <Button
              variant="default"
              leftSection={<IconDownload size={18} />}
              onClick={() => void download()}
              disabled={summary === null}
            >
              {t('summary.download')}
            </Button>
            <Button component={Link} to="/records/share" leftSection={<IconShare size={18} />}>
              {t('summary.share')}
            </Button>
          </>
        }
      />
      <Text c="dimmed" size="sm" className="hale-no-print">
        {t('summary.explain')}
      </Text>
      {failure !== null && <FailureAlert failure={failure} title={t('summary.failedTitle')} />}
      {saved !== null && (
        <Alert color="teal" data-testid="summary-saved" className="hale-no-print">
          {t('summary.saved', { name: saved })}
        </Alert>
      )}
      {read === null && failure === null && <Skeleton height={240} />}
      {read !== null && (
        <>
          <Paper withBorder p="md" className="hale-summary-section" data-testid="summary-patient">
            <SimpleGrid cols={{ base: 1, sm: 3 }} className="hale-summary-patient">
              <div>
                <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
                  {t('summary.patient')}
                </Text>
                <Text fw={700} size="lg">
                  {read.patient.name ?? '—'}
                </Text>
              </div>
              <div>
                <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
                  {t('fields.birthDate')}
                </Text>
                <Text>
                  {read.patient.birthDate === undefined ? '—' : formatDateIn(read.patient.birthDate, locale)}
                </Text>
              </div>
              <div>
                <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
                  {t('summary.made')}
                </Text>
                <Text>{read.date === undefined ? '—' : formatDateIn(read.date, locale)}</Text>
              </div>
            </SimpleGrid>
          </Paper>
          {read.sections.map((s, i) => (
            <Section key={s.code ?? i} section={s} />
          ))}
          <Group>
            <Text size="sm" c="dimmed">
              {t('summary.standard')}
            </Text>
          </Group>
        </>
      )}
    </Stack>
  );
}
