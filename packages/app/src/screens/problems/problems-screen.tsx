/**
 * Everything that needs the person's attention, in words (`/problems`): sync issues, versions set aside,
 * changes the server did not take, records edited on two devices at once, uploads that failed. Each item
 * says what it means and what to do; it leaves the list when it no longer holds. A section with nothing in
 * it is not shown; nothing at all: said so once. A patient ending what they shared is information, not a
 * problem: told once per patient, below.
 */
import type { ReactNode } from 'react';
import { Alert, Anchor, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useQuarantine, useRecords, useSyncIssues, useUnsent, useUploads } from '@hale/react';
import { IssueAlert, QuarantineAlert, UnsentAlert } from './problems-inline';
import { KIND_SLUGS, KINDS, type KindSlug } from '../../records/kinds';
import { formatDate, recordTitle } from '../../records/format';
import { unnamed } from '../../workspace/patients/patient-name';
import { accessEndings, problemIssues, type AccessEnded } from './describe';
import { fieldsOf } from '../../records/write';
import { PageHeader } from '../../ui/page-header';
import { UploadRow } from '../documents/upload-row';

/** The records of every kind changed on two devices at once (one query per kind, in KIND_SLUGS order). */
function useConflicts(): { readonly slug: KindSlug; readonly id: string; readonly title: string }[] {
  const { t } = useTranslation();
  return KIND_SLUGS.flatMap((slug) => {
    const spec = KINDS[slug];
    // A fixed list, always called in the same order.
    const page = useRecords(spec.kind, { conflict: true });
    return page.items.map((item) => ({
      slug,
      id: item.record.id,
      title: `${t(`kinds.${slug}.one`)}: ${recordTitle(t, spec, fieldsOf(item.record))}`,
    }));
  });
}

function Endings(props: { readonly endings: readonly AccessEnded[] }): ReactNode {
  const { t } = useTranslation();
  if (props.endings.length === 0) return null;
  return (
    <Stack gap="xs" data-testid="problems-information">
      <Title order={2} size="h4">
        {t('problems.information')}
      </Title>
      {props.endings.map((e) => {
        const code = e.reason === 'expired' ? 'CONSENT_EXPIRED' : 'CONSENT_REVOKED';
        return (
          <Alert
            key={`${e.patientId}-${e.reason}`}
            color="blue"
            variant="light"
            title={t(`problem.${code}.title`)}
            data-code={code}
          >
            <Text size="sm">
              {t('problems.endedFor', {
                count: e.streams,
                patient: unnamed(t, e.patientId),
                when: formatDate(e.at),
              })}
            </Text>
            <Text size="sm">{t(`problem.${code}.todo`)}</Text>
            <Anchor component={Link} to={`/workspace/patients/${e.patientId}`} size="sm">
              {t('problems.openChart')}
            </Anchor>
          </Alert>
        );
      })}
    </Stack>
  );
}

export function ProblemsScreen(): ReactNode {
  const { t } = useTranslation();
  const all = useSyncIssues();
  const issues = problemIssues(all);
  const endings = accessEndings(all);
  const quarantine = useQuarantine();
  const unsent = useUnsent();
  const uploads = useUploads().filter((u) => u.state === 'failed');
  const conflicts = useConflicts();
  const nothing = issues.length + quarantine.length + unsent.length + uploads.length + conflicts.length === 0;
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
      {conflicts.length > 0 && (
        <Paper withBorder p="md" data-testid="problems-conflicts">
          <Title order={2} size="h4">
            {t('problems.conflicts')}
          </Title>
          <Text size="sm" c="dimmed" mb="xs">
            {t('problems.conflictsExplain')}
          </Text>
          {conflicts.map((c) => (
            <Anchor
              key={`${c.slug}-${c.id}`}
              component={Link}
              to={`/chart/${c.slug}/${c.id}`}
              display="block"
              py={4}
            >
              {c.title}
            </Anchor>
          ))}
        </Paper>
      )}
      {nothing && (
        <Paper withBorder p="lg" data-testid="no-problems">
          <Text fw={600}>{t('problems.none')}</Text>
        </Paper>
      )}
      <Endings endings={endings} />
    </Stack>
  );
}
