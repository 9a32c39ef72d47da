/**
 * Writing a message (both roles): text and files. Files are sealed into the patient's message stream
 * before the message is written: uploaded now when online, queued to upload when offline.
 *
 * Invariants: what was typed is kept as a draft per conversation (records/drafts.ts: memory, then sealed on
 * the device) until sent, so leaving the screen, a refused send, a lock or a reload loses nothing; the files
 * chosen are kept in page memory only (bytes are not written to drafts); a file over MAX_FILE_BYTES is
 * refused at once, by name.
 * Failure modes: every refusal said in words (careErrorText), the text and files kept.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { ActionIcon, Alert, Button, FileButton, Group, Paper, Stack, Text, Textarea } from '@mantine/core';
import { IconPaperclip, IconSend, IconX } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { MAX_FILE_BYTES, type HaleSession } from '@hale/client';
import { useSyncStatus, useHaleSession } from '@hale/react';
import { formatBytes } from '../../screens/documents/file-ref';
import { dropDraft, loadDraft, readDraft, saveDraft } from '../../records/drafts';
import { careErrorText } from '../errors';

interface Draft {
  readonly body: string;
  readonly files: readonly File[];
}

const drafts = new WeakMap<HaleSession, Map<string, Draft>>();
const draftsOf = (session: HaleSession): Map<string, Draft> => {
  let held = drafts.get(session);
  if (held === undefined) {
    held = new Map();
    drafts.set(session, held);
  }
  return held;
};

export function Composer(props: {
  readonly to: string;
  readonly threadId?: string;
  readonly label: string;
  /** Text a new message starts with (a request for a correction names its record); typing replaces nothing. */
  readonly initial?: string;
  readonly onSent?: (message: { patientId: string; threadId: string }) => void;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const syncStatus = useSyncStatus();
  const key = `${props.to}/${props.threadId ?? 'new'}`;
  const draftKey = `message:${key}`;
  const kept = draftsOf(session);
  const [draft, setDraftState] = useState<Draft>(() => {
    const typed = readDraft(draftKey)?.['body'];
    const held = kept.get(key) ?? { body: props.initial ?? '', files: [] };
    return typeof typed === 'string' ? { ...held, body: typed } : held;
  });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const setDraft = (next: Draft): void => {
    kept.set(key, next);
    setDraftState(next);
    if (next.body !== draft.body) {
      if (next.body === '') void dropDraft(session, draftKey);
      else void saveDraft(session, draftKey, { body: next.body });
    }
  };
  useEffect(() => {
    // After a reload or a lock: the text kept on the device comes back, unless typing already began.
    let live = true;
    void loadDraft(session, draftKey).then((values) => {
      const body = values?.['body'];
      if (live && typeof body === 'string') setDraftState((d) => (d.body === '' ? { ...d, body } : d));
    });
    return () => {
      live = false;
    };
  }, [session, draftKey]);

  const add = (files: File[]): void => {
    setError(null);
    const big = files.find((f) => f.size > MAX_FILE_BYTES);
    if (big !== undefined) {
      setError(t('care.messages.tooBig', { name: big.name, max: formatBytes(MAX_FILE_BYTES) }));
      return;
    }
    setDraft({ ...draft, files: [...draft.files, ...files].slice(0, 20) });
  };

  const send = async (): Promise<void> => {
    if (draft.body.trim() === '' && draft.files.length === 0) {
      setError(t('care.messages.nothingToSend'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const attachments = await Promise.all(
        draft.files.map(async (f) => ({
          bytes: new Uint8Array(await f.arrayBuffer()),
          fileName: f.name,
          mediaType: f.type === '' ? 'application/octet-stream' : f.type,
        })),
      );
      const sent = await session.care.messages.send({
        to: props.to,
        body: draft.body,
        ...(props.threadId === undefined ? {} : { threadId: props.threadId }),
        ...(attachments.length === 0 ? {} : { attachments }),
        upload: syncStatus === 'online' || syncStatus === 'syncing' ? 'now' : 'enqueue',
      });
      kept.delete(key);
      void dropDraft(session, draftKey);
      setDraftState({ body: '', files: [] });
      props.onSent?.({ patientId: sent.patientId, threadId: sent.threadId });
    } catch (e) {
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Paper withBorder p="sm">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <Stack gap="xs">
          <Textarea
            label={props.label}
            value={draft.body}
            onChange={(e) => setDraft({ ...draft, body: e.currentTarget.value })}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void send();
              }
            }}
            autosize
            minRows={2}
            maxRows={10}
            maxLength={20000}
            data-testid="composer-body"
          />
          {draft.files.length > 0 && (
            <Stack gap={4} role="list" aria-label={t('care.messages.attached')}>
              {draft.files.map((f, i) => (
                <Group key={`${f.name}-${i}`} gap="xs" role="listitem" wrap="nowrap">
                  <IconPaperclip size={16} aria-hidden />
                  <Text size="sm" truncate>
                    {f.name} · {formatBytes(f.size)}
                  </Text>
                  <ActionIcon
                    variant="subtle"
                    color="gray"
                    aria-label={t('care.messages.removeFile', { name: f.name })}
                    onClick={() => setDraft({ ...draft, files: draft.files.filter((_, j) => j !== i) })}
                  >
                    <IconX size={16} />
                  </ActionIcon>
                </Group>
              ))}
            </Stack>
          )}
          {error !== null && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <Group justify="space-between">
            <FileButton onChange={add} multiple>
              {(p) => (
                <Button variant="default" leftSection={<IconPaperclip size={16} />} {...p}>
                  {t('care.messages.attach')}
                </Button>
              )}
            </FileButton>
            <Button type="submit" loading={busy} leftSection={<IconSend size={16} />}>
              {t('care.messages.send')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
