/**
 * The audit log's check in words: intact; or which entry is wrong and what that means; entries that could
 * not be checked now; and grantee entries whose content cannot be read, named by account and device — a
 * log with only those is still intact.
 */
import type { ReactNode } from 'react';
import { Alert, List, Loader, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { AuditVerification, UnreadableAuditEntry } from '@hale/client';
import { formatDate, shortId } from '../../records/format';
import { usePersonName } from '../people';

export const PROBLEM_KINDS = ['modified', 'deleted', 'reordered', 'inserted', 'unverified'] as const;

export function VerificationPanel(props: { readonly verification: AuditVerification | null }): ReactNode {
  const { t } = useTranslation();
  const v = props.verification;
  if (v === null) {
    return (
      <Alert color="gray" icon={<Loader size={16} />} data-testid="audit-verification" data-result="checking">
        {t('care.audit.checking')}
      </Alert>
    );
  }
  const serious = v.problems.filter((p) => p.kind !== 'unverified');
  const unverified = v.problems.filter((p) => p.kind === 'unverified');
  const unreadable = v.unreadable ?? [];
  return (
    <Stack gap="xs">
      {serious.length === 0 ? (
        <Alert
          color={unverified.length > 0 ? 'orange' : 'green'}
          title={unverified.length > 0 ? t('care.audit.partlyTitle') : t('care.audit.intactTitle')}
          data-testid="audit-verification"
          data-result={unverified.length > 0 ? 'partly' : 'intact'}
        >
          <Text size="sm">{t('care.audit.intact', { entries: v.entries, authors: v.authors })}</Text>
          {unverified.length > 0 && (
            <Text size="sm">{t('care.audit.unverified', { count: unverified.length })}</Text>
          )}
        </Alert>
      ) : (
        <Alert
          color="red"
          role="alert"
          title={t('care.audit.brokenTitle')}
          data-testid="audit-verification"
          data-result="broken"
        >
          <Stack gap={6}>
            <List size="sm">
              {serious.map((p) => (
                <List.Item key={`${p.entryId}-${p.kind}`}>
                  {t('care.audit.problem', {
                    seq: p.authorSeq,
                    device: shortId(p.author),
                    what: t(`care.audit.problemKind.${p.kind}`),
                  })}
                </List.Item>
              ))}
            </List>
            <Text size="sm">{t('care.audit.brokenMeans')}</Text>
          </Stack>
        </Alert>
      )}
      {unreadable.length > 0 && <Unreadable entries={unreadable} />}
    </Stack>
  );
}

function Unreadable(props: { readonly entries: readonly UnreadableAuditEntry[] }): ReactNode {
  const { t } = useTranslation();
  return (
    <Alert
      color="yellow"
      title={t('care.audit.unreadableTitle', { count: props.entries.length })}
      data-testid="audit-unreadable"
    >
      <Stack gap={6}>
        <List size="sm">
          {props.entries.map((e) => (
            <UnreadableLine key={e.entryId} entry={e} />
          ))}
        </List>
        <Text size="sm">{t('care.audit.unreadableMeans')}</Text>
      </Stack>
    </Alert>
  );
}

function UnreadableLine(props: { readonly entry: UnreadableAuditEntry }): ReactNode {
  const { t } = useTranslation();
  const name = usePersonName(props.entry.authorAccountId);
  return (
    <List.Item data-testid="unreadable-entry">
      {t('care.audit.unreadableEntry', {
        name,
        device: shortId(props.entry.author),
        when: formatDate(props.entry.at),
      })}
    </List.Item>
  );
}
