/**
 * Messages (`/care/messages`), for a patient (a thread per conversation with each clinician) and a
 * clinician (threads across its patients): latest first, the other party, the last words, unread counts.
 * Live: a message arriving on this device (from the server) shows at once.
 */
import { useMemo, type ReactNode } from 'react';
import { Badge, Button, Group, Paper, Stack, Text } from '@mantine/core';
import { IconPaperclip, IconPencil } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { Thread } from '@hale/client';
import { useObserved, useHaleSession } from '@hale/react';
import { formatDate } from '../../records/format';
import { PageHeader } from '../../ui/page-header';
import { NotificationPrompt } from '../notify/prompt';
import { usePersonName } from '../people';
import { newMessagePath, threadPath } from './paths';

export function MessagesScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const threads = useObserved(session.care.messages.inbox);
  const unread = useMemo(() => threads.reduce((n, th) => n + th.unread, 0), [threads]);
  return (
    <Stack>
      <PageHeader
        title={t('care.messages.title')}
        actions={
          <Button component={Link} to={newMessagePath()} leftSection={<IconPencil size={18} />}>
            {t('care.messages.new')}
          </Button>
        }
      />
      <NotificationPrompt />
      <Text size="sm" c="dimmed" aria-live="polite" data-testid="inbox-unread">
        {t('care.messages.unreadCount', { count: unread })}
      </Text>
      {threads.length === 0 ? (
        <Paper withBorder p="lg">
          <Stack gap={4}>
            <Text fw={600}>{t('care.messages.empty')}</Text>
            <Text size="sm" c="dimmed">
              {session.account.role === 'provider'
                ? t('care.messages.emptyHintProvider')
                : t('care.messages.emptyHint')}
            </Text>
          </Stack>
        </Paper>
      ) : (
        <Paper withBorder>
          <ul
            role="list"
            aria-label={t('care.messages.threads')}
            style={{ listStyle: 'none', margin: 0, padding: 0 }}
          >
            {threads.map((th) => (
              <ThreadRow key={`${th.patientId}/${th.threadId}`} thread={th} />
            ))}
          </ul>
        </Paper>
      )}
    </Stack>
  );
}

export function ThreadRow(props: { readonly thread: Thread }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const th = props.thread;
  const name = usePersonName(th.counterpartId);
  const mine = th.latest.senderId === session.account.accountId;
  const files = th.latest.attachments?.length ?? 0;
  const snippet =
    th.latest.body.trim() === '' ? t('care.messages.filesOnly', { count: files }) : th.latest.body;
  return (
    <li
      data-testid="thread-row"
      data-unread={th.unread}
      style={{ borderBottom: '1px solid var(--mantine-color-default-border)' }}
    >
      <Link to={threadPath(th.patientId, th.threadId)} className="hale-row-link">
        <Group justify="space-between" wrap="nowrap" px="md" py="sm" mih={64}>
          <div style={{ minWidth: 0 }}>
            <Text fw={th.unread > 0 ? 700 : 600} truncate>
              {name}
            </Text>
            <Group gap={4} wrap="nowrap">
              {files > 0 && <IconPaperclip size={14} aria-label={t('care.messages.hasFiles')} />}
              <Text size="sm" c={th.unread > 0 ? 'var(--mantine-color-text)' : 'dimmed'} truncate>
                {mine ? t('care.messages.youSaid', { text: snippet }) : snippet}
              </Text>
            </Group>
          </div>
          <Stack gap={4} align="flex-end" style={{ flexShrink: 0 }}>
            <Text size="xs" c="dimmed">
              {formatDate(th.latest.sentAt)}
            </Text>
            {th.unread > 0 && (
              <Badge color="red" aria-label={t('care.messages.unreadIn', { count: th.unread })}>
                {th.unread}
              </Badge>
            )}
          </Stack>
        </Group>
      </Link>
    </li>
  );
}
