/**
 * Comments beside a record (`Comment` records about it): the person's own words on a record another party
 * wrote and signed, kept apart from it. Listed newest first, each with its date and writer; "Add a comment"
 * opens a small form; the writer edits or deletes its own.
 *
 * Invariants:
 * - The commented record is never written from here; a comment names it (`about`, `aboutKind`).
 * - What is typed is kept as a draft (drafts.ts) per form (`comment:new:<record id>`, `comment:<id>`) until
 *   saved or cancelled: leaving the screen, a refused save, a lock or a reload loses nothing.
 * - Edit and Delete show only where the model's authorship allows (`rightsOver`: a comment is its writer's).
 * Failure modes: a refused write is said in words at the form, the text kept.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Modal, Paper, Stack, Text, Textarea, Title } from '@mantine/core';
import { IconEdit, IconMessagePlus, IconTrash } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { isHaleError, rightsOver, type StoredRecord } from '@hale/client';
import { useDevices, useHaleSession, useRecords } from '@hale/react';
import { formatDate } from './format';
import { whoWrote, type Me } from './authorship';
import { useDirectoryNames } from '../care/people';
import { patientQuery, useChartScope } from './chart-scope';
import { dropDraft, loadDraft, readDraft, saveDraft } from './drafts';
import { addRecord, updateRecord } from './write';
import { haleErrorText } from '../i18n/error-words';

/** The longest comment the model takes (CommentSchema `text`). */
const MAX_TEXT = 4000;

export function CommentsPanel(props: {
  readonly about: StoredRecord;
  /** Whether this account may add a comment here (a record it may not edit, a grant that allows it). */
  readonly mayAdd: boolean;
}): ReactNode {
  const { about, mayAdd } = props;
  const { t } = useTranslation();
  const session = useHaleSession();
  const scope = useChartScope();
  const me: Me = { accountId: session.account.accountId, deviceId: session.account.deviceId };
  const page = useRecords('Comment', { ...patientQuery(scope), sort: 'clinical' });
  const comments = page.items.filter((c) => c.record.about === about.record.id);
  const newKey = `comment:new:${about.record.id}`;
  const [adding, setAdding] = useState(() => readDraft(newKey) !== undefined);
  useEffect(() => {
    // A comment begun before a reload or a lock opens again with its words.
    let live = true;
    void loadDraft(session, newKey).then((kept) => {
      if (live && kept !== undefined) setAdding(true);
    });
    return () => {
      live = false;
    };
  }, [session, newKey]);
  if (comments.length === 0 && !mayAdd) return null;

  const add = async (text: string): Promise<void> => {
    await addRecord(
      session,
      'Comment',
      { about: about.record.id, aboutKind: about.kind, text, writtenAt: new Date().toISOString() },
      patientQuery(scope),
    );
    setAdding(false);
  };

  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }} component="section" aria-labelledby="comments-title">
      <Group justify="space-between" mb="xs" wrap="wrap">
        <Title order={2} size="h4" id="comments-title">
          {scope.patientId === undefined ? t('comments.yours') : t('comments.title')}
        </Title>
        {mayAdd && !adding && (
          <Button
            variant="default"
            size="sm"
            leftSection={<IconMessagePlus size={18} />}
            onClick={() => setAdding(true)}
          >
            {t('comments.add')}
          </Button>
        )}
      </Group>
      <Text size="sm" c="dimmed" mb="sm">
        {scope.patientId === undefined ? t('comments.explainOwn') : t('comments.explainOther')}
      </Text>
      <Stack gap="md">
        {adding && (
          <CommentForm
            draftKey={newKey}
            initial=""
            label={t('comments.new')}
            onSave={add}
            onCancel={() => setAdding(false)}
          />
        )}
        {comments.length === 0 && !adding && <Text size="sm">{t('comments.none')}</Text>}
        {comments.map((c) => (
          <CommentItem key={c.record.id} comment={c} me={me} />
        ))}
      </Stack>
    </Paper>
  );
}

function CommentItem(props: { readonly comment: StoredRecord<'Comment'>; readonly me: Me }): ReactNode {
  const { comment, me } = props;
  const { t } = useTranslation();
  const session = useHaleSession();
  const devices = useDevices();
  const names = useDirectoryNames(comment.by === undefined ? [] : [comment.by]);
  const rights = rightsOver(comment, me.accountId);
  const key = `comment:${comment.record.id}`;
  const [editing, setEditing] = useState(() => readDraft(key) !== undefined);
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void loadDraft(session, key).then((kept) => {
      if (live && kept !== undefined && rights.change) setEditing(true);
    });
    return () => {
      live = false;
    };
  }, [session, key, rights.change]);

  const remove = async (): Promise<void> => {
    setError(null);
    try {
      await session.records.remove(comment.record.id);
      void dropDraft(session, key);
    } catch (e) {
      setError(isHaleError(e) ? haleErrorText(t, e, 'recordError') : String(e));
    }
    setConfirm(false);
  };
  const edited = comment.record.updatedAt !== comment.record.createdAt;

  return (
    <Stack
      gap={4}
      component="article"
      aria-label={t('comments.one', { when: formatDate(comment.record.writtenAt) })}
    >
      {editing ? (
        <CommentForm
          draftKey={key}
          initial={comment.record.text}
          label={t('comments.editLabel')}
          onSave={async (text) => {
            await updateRecord(session, 'Comment', comment.record.id, { text });
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <Text style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{comment.record.text}</Text>
      )}
      <Group gap="xs" justify="space-between" wrap="wrap">
        <Text size="sm" c="dimmed">
          {t(edited ? 'comments.writtenEdited' : 'comments.written', {
            when: formatDate(comment.record.writtenAt),
            who: whoWrote(t, me, devices, comment.by, comment.author, names),
          })}
        </Text>
        {!editing && (rights.change || rights.remove) && (
          <Group gap="xs">
            {rights.change && (
              <Button
                size="compact-sm"
                variant="subtle"
                leftSection={<IconEdit size={16} />}
                onClick={() => setEditing(true)}
              >
                {t('common.edit')}
              </Button>
            )}
            {rights.remove && (
              <Button
                size="compact-sm"
                variant="subtle"
                color="red"
                leftSection={<IconTrash size={16} />}
                onClick={() => setConfirm(true)}
              >
                {t('common.delete')}
              </Button>
            )}
          </Group>
        )}
      </Group>
      {error !== null && (
        <Alert color="red" role="alert" title={t('records.notDone')}>
          {error}
        </Alert>
      )}
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={confirm}
        onClose={() => setConfirm(false)}
        title={t('comments.deleteTitle')}
      >
        <Stack>
          <Text>{t('comments.deleteExplain')}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              {t('common.cancel')}
            </Button>
            <Button color="red" onClick={() => void remove()}>
              {t('common.delete')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function CommentForm(props: {
  readonly draftKey: string;
  readonly initial: string;
  readonly label: string;
  readonly onSave: (text: string) => Promise<void>;
  readonly onCancel: () => void;
}): ReactNode {
  const { draftKey } = props;
  const { t } = useTranslation();
  const session = useHaleSession();
  const [text, setText] = useState(() => {
    const typed = readDraft(draftKey)?.['text'];
    return typeof typed === 'string' ? typed : props.initial;
  });
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    void loadDraft(session, draftKey).then((kept) => {
      const typed = kept?.['text'];
      if (live && typeof typed === 'string') setText(typed);
    });
    return () => {
      live = false;
    };
  }, [session, draftKey]);

  const change = (next: string): void => {
    setText(next);
    setProblem(null);
    void saveDraft(session, draftKey, { text: next });
  };
  const save = async (): Promise<void> => {
    if (text.trim() === '') return setProblem(t('comments.needText'));
    if (text.length > MAX_TEXT) return setProblem(t('comments.tooLong', { max: MAX_TEXT }));
    setBusy(true);
    try {
      await props.onSave(text.trim());
      void dropDraft(session, draftKey);
    } catch (e) {
      setProblem(isHaleError(e) ? haleErrorText(t, e, 'recordError') : String(e));
    } finally {
      setBusy(false);
    }
  };
  const cancel = (): void => {
    void dropDraft(session, draftKey);
    props.onCancel();
  };

  return (
    <Stack gap="xs">
      <Textarea
        label={props.label}
        value={text}
        onChange={(e) => change(e.currentTarget.value)}
        autosize
        minRows={3}
        maxRows={12}
        error={problem}
        description={t('drafts.kept')}
        data-autofocus
      />
      <Group gap="xs" justify="flex-end">
        <Button variant="default" onClick={cancel} disabled={busy}>
          {t('common.cancel')}
        </Button>
        <Button onClick={() => void save()} loading={busy}>
          {t('common.save')}
        </Button>
      </Group>
    </Stack>
  );
}
