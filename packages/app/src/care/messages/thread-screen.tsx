/**
 * One conversation (`/care/messages/:patientId/:threadId`), for both roles: messages oldest first, mine on
 * the right with their receipts (sent, delivered, read, with times), files to download, a reply box.
 * Messages to this account are marked read while the thread is on screen (the sender sees the receipt).
 *
 * Failure modes: a file that cannot be fetched or does not check is said in words beside it.
 */
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Alert, Box, Button, Group, Paper, Stack, Text } from '@mantine/core';
import { IconCheck, IconChecks, IconClock, IconDownload } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router';
import type { FileRef, StoredMessage } from '@hale/client';
import { useObserved, useHaleSession } from '@hale/react';
import { formatDate } from '../../records/format';
import { formatBytes } from '../../screens/documents/file-ref';
import { PageHeader } from '../../ui/page-header';
import { careErrorText } from '../errors';
import { usePersonName } from '../people';
import { Composer } from './composer';
import { MESSAGES } from './paths';

export function ThreadScreen(): ReactNode {
  const { patientId = '', threadId = '' } = useParams();
  return <ThreadView key={`${patientId}/${threadId}`} patientId={patientId} threadId={threadId} />;
}

export function ThreadView(props: { readonly patientId: string; readonly threadId: string }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const observed = useMemo(
    () => session.care.messages.thread(props.patientId, props.threadId),
    [session, props.patientId, props.threadId],
  );
  const messages = useObserved(observed);
  const other = useMemo(() => {
    const m = messages.find((x) => x.record.senderId !== me) ?? messages[0];
    if (m === undefined) return undefined;
    return m.record.senderId === me ? m.record.recipientId : m.record.senderId;
  }, [messages, me]);
  const name = usePersonName(other);
  const unread = messages.filter((m) => m.record.recipientId === me && m.record.status !== 'read').length;

  const marking = useRef(false);
  useEffect(() => {
    if (unread === 0 || marking.current) return;
    marking.current = true;
    void session.care.messages
      .markRead(props.patientId, props.threadId)
      .catch(() => undefined)
      .finally(() => {
        marking.current = false;
      });
  }, [unread, session, props.patientId, props.threadId]);

  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // Newer Chromium answers a Promise here: not returned, or React takes it for a cleanup.
    void end.current?.scrollIntoView?.({ block: 'end' });
  }, [messages.length]);

  return (
    <Stack maw={860}>
      <PageHeader title={messages.length === 0 ? t('care.messages.thread') : name} back={MESSAGES} />
      {messages.length === 0 ? (
        <Text c="dimmed">{t('care.messages.threadEmpty')}</Text>
      ) : (
        <Stack
          gap="sm"
          role="log"
          aria-label={t('care.messages.conversationWith', { name })}
          aria-live="polite"
        >
          {messages.map((m) => (
            <Bubble key={m.record.id} message={m} mine={m.record.senderId === me} />
          ))}
        </Stack>
      )}
      <div ref={end} />
      {other !== undefined && (
        <Composer to={other} threadId={props.threadId} label={t('care.messages.reply', { name })} />
      )}
    </Stack>
  );
}

function Bubble(props: { readonly message: StoredMessage; readonly mine: boolean }): ReactNode {
  const m = props.message.record;
  const sender = usePersonName(m.senderId);
  return (
    <Group
      justify={props.mine ? 'flex-end' : 'flex-start'}
      data-testid="message"
      data-mine={props.mine}
      data-status={m.status}
    >
      <Paper
        p="sm"
        maw="85%"
        withBorder={!props.mine}
        bg={props.mine ? 'var(--mantine-color-hale-0)' : 'var(--mantine-color-body)'}
      >
        <Stack gap={6}>
          <Text size="xs" c="dimmed">
            {sender} · {formatDate(m.sentAt)}
          </Text>
          {m.body !== '' && (
            <Text style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }} data-testid="message-body">
              {m.body}
            </Text>
          )}
          {(m.attachments ?? []).map((f) => (
            <AttachmentLink key={f.blobId} message={props.message} file={f} />
          ))}
          {props.mine && (
            <Receipt status={m.status} deliveredAt={m.deliveredAt ?? ''} readAt={m.readAt ?? ''} />
          )}
        </Stack>
      </Paper>
    </Group>
  );
}

function Receipt(props: {
  readonly status: string;
  readonly deliveredAt: string;
  readonly readAt: string;
}): ReactNode {
  const { t } = useTranslation();
  const [icon, text] =
    props.status === 'read'
      ? [
          <IconChecks key="i" size={14} color="var(--mantine-color-green-7)" />,
          t('care.messages.readAt', { when: formatDate(props.readAt) }),
        ]
      : props.status === 'delivered'
        ? [
            <IconCheck key="i" size={14} />,
            t('care.messages.deliveredAt', { when: formatDate(props.deliveredAt) }),
          ]
        : [<IconClock key="i" size={14} />, t('care.messages.sentOnly')];
  return (
    <Group gap={4} justify="flex-end" data-testid="receipt" data-status={props.status}>
      <Box component="span" aria-hidden style={{ display: 'inline-flex' }}>
        {icon}
      </Box>
      <Text size="xs" c="dimmed">
        {text}
      </Text>
    </Group>
  );
}

function AttachmentLink(props: { readonly message: StoredMessage; readonly file: FileRef }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const f = props.file;
  const label = `${f.fileName} · ${formatBytes(f.size)}`;
  const get = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const bytes = await session.care.messages.attachment(props.message.record, f);
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: f.mediaType }));
      const a = document.createElement('a');
      a.href = url;
      a.download = f.fileName;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap={4}>
      <Button
        variant="default"
        size="xs"
        leftSection={<IconDownload size={14} />}
        loading={busy}
        onClick={() => void get()}
        aria-label={t('care.messages.download', { name: label })}
        w="fit-content"
        data-testid="attachment"
      >
        {label}
      </Button>
      {error !== null && (
        <Alert color="red" role="alert" p="xs">
          {error}
        </Alert>
      )}
    </Stack>
  );
}
