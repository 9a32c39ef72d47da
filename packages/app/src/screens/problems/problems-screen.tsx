/**
 * Everything that needs the person's attention, in words (`/problems`): sync issues, versions set aside,
 * changes the server did not take, records edited on two devices at once, uploads that failed. Each item
 * says what it means and what to do; it leaves the list when it no longer holds. Nothing here: said so.
 */
import type { ReactNode } from 'react';
import { Anchor, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useQuarantine, useRecords, useSyncIssues, useUnsent, useUploads } from '@hale/react';
import { IssueAlert, QuarantineAlert, UnsentAlert } from './problems-inline';
import { KIND_SLUGS, KINDS, type KindSlug } from '../../records/kinds';
import { recordTitle } from '../../records/format';
import { fieldsOf } from '../../records/write';
import { PageHeader } from '../../ui/page-header';
import { UploadRow } from '../documents/upload-row';

function ConflictsOf(props: { readonly slug: KindSlug }): ReactNode {
  const { t } = useTranslation();
  const spec = KINDS[props.slug];
  const page = useRecords(spec.kind, { conflict: true });
  return page.items.map((item) => (
    <Anchor
      key={item.record.id}
      component={Link}
      to={`/chart/${props.slug}/${item.record.id}`}
      display="block"
      py={4}
    >
      {t(`kinds.${props.slug}.one`)}: {recordTitle(t, spec, fieldsOf(item.record))}
    </Anchor>
  ));
}

export function ProblemsScreen(): ReactNode {
  const { t } = useTranslation();
  const issues = useSyncIssues();
  const quarantine = useQuarantine();
  const unsent = useUnsent();
  const uploads = useUploads().filter((u) => u.state === 'failed');
  const conflicts = KIND_SLUGS.map((slug) => <ConflictsOf key={slug} slug={slug} />);
  const nothing = issues.length + quarantine.length + unsent.length + uploads.length === 0;
  return (
    <Stack maw={900}>
      <PageHeader title={t('problems.title')} />
      <Text c="dimmed">{t('problems.explain')}</Text>
      {issues.map((issue) => (
        <IssueAlert key={`${issue.code}-${issue.stream ?? ''}-${issue.id ?? ''}`} issue={issue} />
      ))}
      {quarantine.map((item) => (
        <QuarantineAlert key={`${item.stream}-${item.id}-${item.seq}`} item={item} />
      ))}
      {unsent.map((change) => (
        <UnsentAlert key={`${change.stream}-${change.id}-${change.rv}`} change={change} />
      ))}
      {uploads.map((u) => (
        <UploadRow key={u.blobId} upload={u} />
      ))}
      <Paper withBorder p="md">
        <Title order={2} size="h4">
          {t('problems.conflicts')}
        </Title>
        <Text size="sm" c="dimmed" mb="xs">
          {t('problems.conflictsExplain')}
        </Text>
        {conflicts}
      </Paper>
      {nothing && (
        <Paper withBorder p="lg" data-testid="no-problems">
          <Text fw={600}>{t('problems.none')}</Text>
        </Paper>
      )}
    </Stack>
  );
}
