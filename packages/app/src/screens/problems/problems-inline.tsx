/**
 * The problems that belong to a kind's list or one record, shown where they belong: versions of it set
 * aside (quarantined), its changes the server did not take (unsent), sync issues naming it. Each says what
 * it means and what to do; each goes once it no longer holds (they are live views of the sync state).
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, Group, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { QuarantinedItem, RecordKind, SyncIssue, UnsentChange } from '@hale/client';
import { useQuarantine, useSyncIssues, useUnsent, useHaleSession } from '@hale/react';
import { issueWords, quarantineWords, streamTypeOf, streamTypeOfKind } from './describe';

export function ProblemsFor(props: { readonly kind: RecordKind; readonly id?: string }): ReactNode {
  const type = streamTypeOfKind(props.kind);
  const issues = useSyncIssues();
  const quarantine = useQuarantine();
  const unsent = useUnsent();
  const mine = (x: { stream?: string; id?: string }): boolean =>
    streamTypeOf(x.stream) === type && (props.id === undefined || x.id === props.id);
  const q = quarantine.filter(mine);
  const u = unsent.filter(mine);
  const i = issues.filter((x) => x.id !== undefined && mine(x) && x.code !== 'QUARANTINED');
  if (q.length + u.length + i.length === 0) return null;
  return (
    <Stack gap="xs">
      {i.map((issue) => (
        <IssueAlert key={`${issue.code}-${issue.id ?? ''}`} issue={issue} />
      ))}
      {q.map((item) => (
        <QuarantineAlert key={`${item.stream}-${item.id}-${item.seq}`} item={item} />
      ))}
      {u.map((change) => (
        <UnsentAlert key={`${change.stream}-${change.id}-${change.rv}`} change={change} />
      ))}
    </Stack>
  );
}

export function IssueAlert(props: { readonly issue: SyncIssue }): ReactNode {
  const { t } = useTranslation();
  const words = issueWords(t, props.issue.code);
  return (
    <Alert color="orange" title={words.title} data-code={props.issue.code}>
      <Text size="sm">{words.todo}</Text>
      <Text size="xs" c="dimmed" mt={4}>
        {props.issue.message}
      </Text>
    </Alert>
  );
}

export function QuarantineAlert(props: { readonly item: QuarantinedItem }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [busy, setBusy] = useState(false);
  const words = quarantineWords(t, props.item.reason);
  const { stream, id, rev } = props.item;
  return (
    <Alert color="red" title={words.title} data-code={props.item.reason}>
      <Stack gap={4}>
        <Text size="sm">{words.todo}</Text>
        <Text size="xs" c="dimmed">
          {props.item.message}
        </Text>
        <Group>
          <Button
            size="xs"
            variant="default"
            loading={busy}
            onClick={() => {
              setBusy(true);
              void session.sync.dismissQuarantined({ stream, id, rev }).finally(() => setBusy(false));
            }}
          >
            {t('quarantine.dismiss')}
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}

export function UnsentAlert(props: { readonly change: UnsentChange }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const words = issueWords(t, props.change.code);
  return (
    <Alert color="red" title={t('unsent.title')} data-code={props.change.code}>
      <Stack gap={4}>
        <Text size="sm">{t('unsent.explain')}</Text>
        <Text size="sm">{words.todo}</Text>
        <Text size="xs" c="dimmed">
          {props.change.message}
        </Text>
        <Group>
          <Button
            size="xs"
            variant="default"
            onClick={() =>
              void session.sync.discardUnsent(props.change.stream, props.change.id, props.change.rv)
            }
          >
            {t('unsent.discard')}
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}
