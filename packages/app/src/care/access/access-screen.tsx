/**
 * Who saw my records (`/care/access`): the audit log's check in words; the access story (story-view.tsx:
 * one line per person per day — which kinds, what they did, from which devices, what is unusual — with the
 * raw entries, what the server logged and signed and what grantees' devices claim, one click deeper),
 * filtered by person, kind and period; the accounting of disclosures (each grant: to whom, what,
 * why, until when, how often used). Both export as CSV and as FHIR AuditEvent resources.
 *
 * Offline, the views are what this device verified before, said with their date. On a phone's width both
 * lists are stacked cards (each field named), not tables that scroll sideways.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Button, Group, NativeSelect, Paper, Stack, Table, Tabs, Text } from '@mantine/core';
import { IconDownload, IconRefresh } from '@tabler/icons-react';
import { useMediaQuery } from '@mantine/hooks';
import { useTranslation } from 'react-i18next';
import type { AccessRecord, Disclosure } from '@hale/client';
import { useAccessLog, useAuditVerification, useDisclosures, useHaleSession } from '@hale/react';
import { formatDate, shortId } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { ScrollTable } from '../../ui/scroll-table';
import { usePersonName, useDirectoryNames } from '../people';
import { streamLabel, streamTypeOf } from '../streams';
import { accessCsv, auditEventBundle } from './export';
import { VerificationPanel } from './verification-panel';
import { cardList, Field, PHONE_QUERY } from './access-entries';
import { AccessStory } from './story-view';

const PERIODS = ['all', '1', '7', '30', '365'] as const;
type Period = (typeof PERIODS)[number];

const download = (text: string, name: string, type: string): void => {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
};

export function AccessScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const access = useAccessLog();
  const disclosures = useDisclosures();
  const verification = useAuditVerification();
  const [tab, setTab] = useState<string | null>('access');
  const [who, setWho] = useState('all');
  const [kind, setKind] = useState('all');
  const [period, setPeriod] = useState<Period>('all');
  const records = useMemo(() => access?.records ?? [], [access]);
  const actors = useMemo(() => [...new Set(records.map((r) => r.actorId))], [records]);
  const names = useDirectoryNames(actors);
  const kinds = useMemo(() => [...new Set(records.flatMap((r) => streamTypeOf(r.stream) ?? []))], [records]);
  const rows = useMemo(() => {
    const since = period === 'all' ? 0 : Date.now() - Number(period) * 24 * 3_600_000;
    return records
      .filter((r) => who === 'all' || r.actorId === who)
      .filter((r) => kind === 'all' || streamTypeOf(r.stream) === kind)
      .filter((r) => Date.parse(r.at) >= since)
      .sort((a, b) => (a.at < b.at ? 1 : -1));
  }, [records, who, kind, period]);

  const day = new Date().toISOString().slice(0, 10);
  const exportCsv = (): void => download(accessCsv(rows, names), `hale-access-${day}.csv`, 'text/csv');
  const exportFhir = (): void =>
    download(
      JSON.stringify(
        auditEventBundle(rows, names, session.account.accountId, new Date().toISOString()),
        null,
        2,
      ),
      `hale-access-${day}.fhir.json`,
      'application/fhir+json',
    );
  const asOf = access !== null && !access.complete ? access.asOf : null;
  // A device naming itself is no access: counted by none of the words below (the story keeps it aside).
  const accesses = (list: readonly AccessRecord[]): number =>
    list.filter((r) => r.action !== 'device-named').length;

  return (
    <Stack>
      <PageHeader
        title={t('care.audit.title')}
        actions={
          <Button
            variant="default"
            leftSection={<IconRefresh size={16} />}
            onClick={() => session.audit.refresh()}
          >
            {t('care.audit.refresh')}
          </Button>
        }
      />
      <Text c="dimmed" size="sm" maw={760}>
        {t('care.audit.intro')}
      </Text>
      <VerificationPanel verification={verification} />
      {asOf !== null && <Alert color="orange">{t('care.audit.offline', { when: formatDate(asOf) })}</Alert>}
      <Tabs value={tab} onChange={setTab}>
        <Tabs.List>
          <Tabs.Tab value="access">{t('care.audit.accessTab')}</Tabs.Tab>
          <Tabs.Tab value="disclosures">{t('care.audit.disclosuresTab')}</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="access" pt="md">
          <Stack>
            <Group align="flex-end" wrap="wrap">
              <NativeSelect
                label={t('care.audit.who')}
                value={who}
                onChange={(e) => setWho(e.currentTarget.value)}
                data={[
                  { value: 'all', label: t('care.audit.everyone') },
                  ...actors.map((a) => ({ value: a, label: names.get(a) ?? shortId(a) })),
                ]}
              />
              <NativeSelect
                label={t('care.audit.kind')}
                value={kind}
                onChange={(e) => setKind(e.currentTarget.value)}
                data={[
                  { value: 'all', label: t('care.audit.allKinds') },
                  ...kinds.map((k) => ({ value: k, label: streamLabel(t, k) })),
                ]}
              />
              <NativeSelect
                label={t('care.audit.period')}
                value={period}
                onChange={(e) => setPeriod(e.currentTarget.value as Period)}
                data={PERIODS.map((p) => ({ value: p, label: t(`care.audit.periods.${p}`) }))}
              />
              <Button
                variant="light"
                leftSection={<IconDownload size={16} />}
                onClick={exportCsv}
                disabled={rows.length === 0}
              >
                {t('care.audit.exportCsv')}
              </Button>
              <Button
                variant="light"
                leftSection={<IconDownload size={16} />}
                onClick={exportFhir}
                disabled={rows.length === 0}
              >
                {t('care.audit.exportFhir')}
              </Button>
            </Group>
            {access === null ? (
              <Text c="dimmed">{t('care.audit.reading')}</Text>
            ) : accesses(rows) === 0 ? (
              <Paper withBorder p="lg">
                <Text c="dimmed">
                  {accesses(records) === 0 ? t('care.audit.noAccess') : t('care.audit.noMatch')}
                </Text>
              </Paper>
            ) : (
              <Stack gap="xs">
                <Text size="sm" c="dimmed" aria-live="polite">
                  {t('care.audit.count', { count: accesses(rows) })}
                </Text>
                <AccessStory records={rows} />
              </Stack>
            )}
          </Stack>
        </Tabs.Panel>
        <Tabs.Panel value="disclosures" pt="md">
          <Disclosures list={disclosures?.records ?? null} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function Disclosures(props: { readonly list: readonly Disclosure[] | null }): ReactNode {
  const { t } = useTranslation();
  const phone = useMediaQuery(PHONE_QUERY) === true;
  if (props.list === null) return <Text c="dimmed">{t('care.audit.reading')}</Text>;
  if (props.list.length === 0)
    return (
      <Paper withBorder p="lg">
        <Text c="dimmed">{t('care.audit.noDisclosures')}</Text>
      </Paper>
    );
  const sorted = [...props.list].sort((a, b) => (a.date < b.date ? 1 : -1));
  if (phone)
    return (
      <Paper withBorder>
        <ul aria-label={t('care.audit.disclosuresTab')} data-testid="disclosure-cards" style={cardList}>
          {sorted.map((d, i) => (
            <DisclosureCard key={`${d.recipient}-${d.date}-${i}`} disclosure={d} />
          ))}
        </ul>
      </Paper>
    );
  return (
    <Paper withBorder>
      <ScrollTable label={t('care.audit.disclosuresTab')} minWidth={820}>
        <Table striped data-testid="disclosures-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('care.audit.recipient')}</Table.Th>
              <Table.Th>{t('care.audit.kinds')}</Table.Th>
              <Table.Th>{t('care.audit.purpose')}</Table.Th>
              <Table.Th>{t('care.audit.given')}</Table.Th>
              <Table.Th>{t('care.audit.ends')}</Table.Th>
              <Table.Th>{t('care.audit.used')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {sorted.map((d, i) => (
              <DisclosureRow key={`${d.recipient}-${d.date}-${i}`} disclosure={d} />
            ))}
          </Table.Tbody>
        </Table>
      </ScrollTable>
    </Paper>
  );
}

/** The parts of one disclosure, shared by the table row and the phone's card. */
function useDisclosureParts(d: Disclosure): Record<'name' | 'kinds' | 'ends' | 'used', string> {
  const { t } = useTranslation();
  return {
    name: usePersonName(d.recipient),
    kinds: d.recordTypes
      .map((k) => {
        const type = streamTypeOf(k);
        return type === null ? k : streamLabel(t, type);
      })
      .join(', '),
    ends:
      d.revokedAt !== undefined
        ? t('care.audit.revokedOn', { when: formatDate(d.revokedAt) })
        : formatDate(d.expiresAt),
    used: t('care.audit.usedTimes', { count: d.accesses, documents: d.documentsDisclosed }),
  };
}

function DisclosureRow(props: { readonly disclosure: Disclosure }): ReactNode {
  const d = props.disclosure;
  const parts = useDisclosureParts(d);
  return (
    <Table.Tr data-testid="disclosure-row">
      <Table.Td fw={600}>{parts.name}</Table.Td>
      <Table.Td>{parts.kinds}</Table.Td>
      <Table.Td>{d.purpose}</Table.Td>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatDate(d.date)}</Table.Td>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>{parts.ends}</Table.Td>
      <Table.Td>{parts.used}</Table.Td>
    </Table.Tr>
  );
}

function DisclosureCard(props: { readonly disclosure: Disclosure }): ReactNode {
  const { t } = useTranslation();
  const d = props.disclosure;
  const parts = useDisclosureParts(d);
  return (
    <li data-testid="disclosure-row" style={{ borderTop: '1px solid var(--mantine-color-default-border)' }}>
      <Stack gap={6} px="md" py="sm">
        <Text fw={600}>{parts.name}</Text>
        <Field label={t('care.audit.kinds')}>
          <Text size="sm">{parts.kinds}</Text>
        </Field>
        <Field label={t('care.audit.purpose')}>
          <Text size="sm">{d.purpose}</Text>
        </Field>
        <Field label={t('care.audit.given')}>
          <Text size="sm">{formatDate(d.date)}</Text>
        </Field>
        <Field label={t('care.audit.ends')}>
          <Text size="sm">{parts.ends}</Text>
        </Field>
        <Field label={t('care.audit.used')}>
          <Text size="sm">{parts.used}</Text>
        </Field>
      </Stack>
    </li>
  );
}
