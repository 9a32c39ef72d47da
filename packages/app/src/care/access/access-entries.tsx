/**
 * The raw entries of the access log, as the access story shows them one click deeper: a table on a wide
 * screen, cards (each field named) on a phone's width. Shared by the story lines and the disclosures list.
 * A device is shown by the name its owner gave it (when known) above its short id.
 */
import type { ReactNode } from 'react';
import { Badge, Group, Stack, Table, Text } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { useTranslation } from 'react-i18next';
import type { AccessRecord } from '@hale/client';
import { formatDate, shortId } from '../../records/format';
import { ScrollTable } from '../../ui/scroll-table';
import { usePersonName } from '../people';
import { streamLabel, streamTypeOf } from '../streams';

/** Narrower than Mantine's `sm` breakpoint: cards instead of tables. */
export const PHONE_QUERY = '(max-width: 47.99em)';

export const cardList = { listStyle: 'none', margin: 0, padding: 0 } as const;

/** One field of a card: its name above, its value below. */
export function Field(props: { readonly label: string; readonly children: ReactNode }): ReactNode {
  return (
    <div>
      <Text size="xs" c="dimmed" fw={600}>
        {props.label}
      </Text>
      <div>{props.children}</div>
    </div>
  );
}

/** The parts of one access, shared by the table row and the phone's card. */
function useAccessParts(r: AccessRecord): Record<'who' | 'what' | 'kind' | 'device', ReactNode> {
  const { t } = useTranslation();
  const name = usePersonName(r.actorId);
  const type = streamTypeOf(r.stream);
  return {
    who: (
      <>
        <Text size="sm" fw={600}>
          {r.action === 'link-open' ? t('care.audit.sharedLink') : name}
        </Text>
        {r.source === 'grantee' && (
          <Badge size="xs" variant="outline" color={r.unreadable === true ? 'yellow' : 'gray'} tt="none">
            {r.unreadable === true ? t('care.audit.unreadableBadge') : t('care.audit.claim')}
          </Badge>
        )}
      </>
    ),
    what: (
      <>
        {t(`care.audit.action.${r.action}`, { defaultValue: r.action })}
        {r.count !== undefined && r.source === 'server' && (
          <Text size="xs" c="dimmed">
            {t('care.audit.documents', { count: r.count })}
          </Text>
        )}
      </>
    ),
    kind: type === null ? '—' : streamLabel(t, type),
    device: (
      <>
        {r.actorDeviceName !== undefined && (
          <Text size="sm" data-testid="access-device-name">
            {t('care.story.deviceName', { name: r.actorDeviceName })}
          </Text>
        )}
        <Text
          ff="monospace"
          {...(r.actorDeviceName === undefined ? { size: 'sm' } : { size: 'xs', c: 'dimmed' })}
        >
          {shortId(r.actorDeviceId)}
        </Text>
      </>
    ),
  };
}

function AccessRow(props: { readonly record: AccessRecord }): ReactNode {
  const r = props.record;
  const parts = useAccessParts(r);
  return (
    <Table.Tr data-testid="access-row" data-action={r.action} data-actor={r.actorId}>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatDate(r.at)}</Table.Td>
      <Table.Td>{parts.who}</Table.Td>
      <Table.Td>{parts.what}</Table.Td>
      <Table.Td>{parts.kind}</Table.Td>
      <Table.Td>{parts.device}</Table.Td>
    </Table.Tr>
  );
}

function AccessCard(props: { readonly record: AccessRecord }): ReactNode {
  const { t } = useTranslation();
  const r = props.record;
  const parts = useAccessParts(r);
  return (
    <li
      data-testid="access-row"
      data-action={r.action}
      data-actor={r.actorId}
      style={{ borderTop: '1px solid var(--mantine-color-default-border)' }}
    >
      <Stack gap={6} px="md" py="sm">
        <Group justify="space-between" align="flex-start" gap="xs" wrap="nowrap">
          <div style={{ minWidth: 0 }}>{parts.who}</div>
          <Text size="sm" c="dimmed" ta="right">
            {formatDate(r.at)}
          </Text>
        </Group>
        <Group gap="lg" align="flex-start" wrap="wrap">
          <Field label={t('care.audit.what')}>
            <Text size="sm" component="div">
              {parts.what}
            </Text>
          </Field>
          <Field label={t('care.audit.kind')}>
            <Text size="sm">{parts.kind}</Text>
          </Field>
          <Field label={t('care.audit.device')}>{parts.device}</Field>
        </Group>
      </Stack>
    </li>
  );
}

/** `records` (newest first), at most 500, as a table or as cards. */
export function AccessEntries(props: { readonly records: readonly AccessRecord[] }): ReactNode {
  const { t } = useTranslation();
  const phone = useMediaQuery(PHONE_QUERY) === true;
  const shown = props.records.slice(0, 500);
  return phone ? (
    <ul aria-label={t('care.audit.accessTab')} data-testid="access-cards" style={cardList}>
      {shown.map((r, i) => (
        <AccessCard key={`${r.at}-${r.actorDeviceId}-${r.action}-${i}`} record={r} />
      ))}
    </ul>
  ) : (
    <ScrollTable label={t('care.audit.accessTab')} minWidth={760}>
      <Table striped data-testid="access-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('care.audit.when')}</Table.Th>
            <Table.Th>{t('care.audit.who')}</Table.Th>
            <Table.Th>{t('care.audit.what')}</Table.Th>
            <Table.Th>{t('care.audit.kind')}</Table.Th>
            <Table.Th>{t('care.audit.device')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {shown.map((r, i) => (
            <AccessRow key={`${r.at}-${r.actorDeviceId}-${r.action}-${i}`} record={r} />
          ))}
        </Table.Tbody>
      </Table>
    </ScrollTable>
  );
}
