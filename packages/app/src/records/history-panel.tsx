/**
 * The history of a versioned record (lab result, treatment plan, document): each version, newest first,
 * with when, who wrote it and from which device, why, and what the app knows of its signature.
 *
 * Signatures: the version this device holds was verified when it arrived (a version whose author's
 * signature does not verify is set aside, never stored: see Problems), or was written here. Earlier
 * versions are carried inside the later signed versions; their own signatures are not kept to re-check.
 */
import type { ReactNode } from 'react';
import { Badge, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ScrollTable } from '../ui/scroll-table';
import type { StoredRecord } from '@hale/client';
import { useDevices, useHaleSession } from '@hale/react';
import { whoWrote } from './authorship';
import { useDirectoryNames } from '../care/people';
import { formatDate } from './format';
import { fieldsOf } from './write';

interface VersionRow {
  readonly version: number;
  readonly at: string;
  readonly by: string | undefined;
  readonly deviceId: string | undefined;
  readonly reason: string;
  readonly what: string;
  readonly current: boolean;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

const provenanceOf = (v: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> =>
  typeof v['provenance'] === 'object' && v['provenance'] !== null ? fieldsOf(v['provenance']) : {};

const describe = (kind: string, v: Readonly<Record<string, unknown>>): string => {
  if (kind === 'LabResult')
    return [str(v['value']), str(v['units']), `(${str(v['status'])})`].filter(Boolean).join(' ');
  if (kind === 'TreatmentPlan') return `${str(v['summary'])} (${str(v['status'])})`;
  if (kind === 'HealthDocument') {
    const file = typeof v['file'] === 'object' && v['file'] !== null ? fieldsOf(v['file']) : {};
    return str(file['fileName']);
  }
  return '';
};

const rowOf = (kind: string, v: Readonly<Record<string, unknown>>, current: boolean): VersionRow => {
  const p = provenanceOf(v);
  const isDoc = kind === 'HealthDocument';
  return {
    version: typeof v['version'] === 'number' ? v['version'] : 0,
    at: str(isDoc ? v['uploadedAt'] : p['at']),
    by: isDoc ? str(v['uploadedBy']) || undefined : str(p['by']) || undefined,
    deviceId: isDoc ? undefined : str(p['deviceId']) || undefined,
    reason: str(isDoc ? v['changeNote'] : p['reason']),
    what: describe(kind, v),
    current,
  };
};

export function HistoryPanel(props: { readonly stored: StoredRecord }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const devices = useDevices();
  const me = { accountId: session.account.accountId, deviceId: session.account.deviceId };
  const record = fieldsOf(props.stored.record);
  const earlier = Array.isArray(record['versions']) ? (record['versions'] as unknown[]) : [];
  const rows = [
    rowOf(props.stored.kind, record, true),
    ...earlier
      .filter((v): v is object => typeof v === 'object' && v !== null)
      .map((v) => rowOf(props.stored.kind, fieldsOf(v), false))
      .reverse(),
  ];
  const names = useDirectoryNames(
    [props.stored.by, ...rows.map((r) => r.by)].filter((x): x is string => x !== undefined),
  );
  const signature = (row: VersionRow): ReactNode => {
    if (!row.current)
      return (
        <Badge variant="light" color="gray">
          {t('history.inSignedHistory')}
        </Badge>
      );
    if (props.stored.author === me.deviceId)
      return (
        <Badge variant="light" color="blue">
          {t('history.writtenHere')}
        </Badge>
      );
    return (
      <Badge variant="light" color="teal">
        {t('history.verified')}
      </Badge>
    );
  };
  return (
    <Paper withBorder p="md">
      <Stack gap="xs">
        <Title order={2} size="h4">
          {t('history.title')}
        </Title>
        <Text size="sm" c="dimmed">
          {t('history.explain')}
        </Text>
        <ScrollTable label={t('history.title')} minWidth={560}>
          <Table striped verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('history.version')}</Table.Th>
                <Table.Th>{t('history.when')}</Table.Th>
                <Table.Th>{t('history.who')}</Table.Th>
                <Table.Th>{t('history.what')}</Table.Th>
                <Table.Th>{t('history.reason')}</Table.Th>
                <Table.Th>{t('history.signature')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((row) => (
                <Table.Tr key={`${row.version}-${row.at}`} data-testid={`version-${row.version}`}>
                  <Table.Td>
                    {row.version}
                    {row.current ? ` (${t('history.current')})` : ''}
                  </Table.Td>
                  <Table.Td>{row.at === '' ? '—' : formatDate(row.at)}</Table.Td>
                  <Table.Td>
                    {row.current && row.by === undefined
                      ? whoWrote(t, me, devices, props.stored.by, props.stored.author, names)
                      : whoWrote(t, me, devices, row.by, row.deviceId, names)}
                  </Table.Td>
                  <Table.Td>{row.what}</Table.Td>
                  <Table.Td>{row.reason === '' ? '—' : row.reason}</Table.Td>
                  <Table.Td>{signature(row)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollTable>
      </Stack>
    </Paper>
  );
}
