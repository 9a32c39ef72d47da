/**
 * A note (`…/chart/notes/:id`): while a draft, its SOAP sections are written and saved (each keystroke kept
 * in this page's drafts until saved), then signed; once signed, it is read as signed, and amended (a new
 * version with a reason) or added to (an addendum); every version is kept and shown, with who signed
 * which; co-signature is asked of another clinician for the exact version signed (cosign-panel.tsx);
 * the patient's comments about a signed note show below it when the grant covers comments.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Modal, Paper, Stack, Text, Textarea, Title } from '@mantine/core';
import { tell } from '../../ui/notice';
import { IconDeviceFloppy, IconFilePlus, IconPencil, IconSignature } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router';
import type { RecordOf, StoredRecord } from '@hale/client';
import { useHaleSession, useRecord, useRecords } from '@hale/react';
import { dropDraft, readDraft, saveDraft as keepDraft } from '../../records/drafts';
import { PageHeader } from '../../ui/page-header';
import { usePatientChart } from '../patients/chart-context';
import { canRead, canWrite, chartBase } from '../patients/grant';
import { errorText } from '../ui';
import { noteBody, openRevision, saveDraft, signNote, SOAP, soapOf, type Soap } from './note-actions';
import { CosignPanel } from './cosign-panel';
import { VersionsPanel } from './versions-panel';
import { NotSaved } from '../../ui/not-saved';
import { CommentsPanel } from '../../records/comments-panel';
import { formatClock } from '../../boot/dates';

type Note = RecordOf<'MedicalNote'>;
type Version = RecordOf<'NoteVersion'>;

export function NoteScreen(): ReactNode {
  const { id } = useParams();
  return id === undefined ? null : <NoteLoader key={id} id={id} />;
}

function NoteLoader(props: { readonly id: string }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord<'MedicalNote'>(props.id);
  if (stored === null) return <Text>{t('records.notFound')}</Text>;
  return <NoteBody note={stored.record} stored={stored} />;
}

function NoteBody(props: { readonly note: Note; readonly stored: StoredRecord<'MedicalNote'> }): ReactNode {
  const { t } = useTranslation();
  const { note } = props;
  const { patientId, chart } = usePatientChart();
  const base = chartBase(patientId);
  const all = useRecords('NoteVersion', { patientId });
  const versions = useMemo(
    () =>
      all.items
        .map((v) => v.record)
        .filter((v) => v.noteId === note.id)
        .sort((a, b) => a.versionNumber - b.versionNumber),
    [all, note.id],
  );
  const current = versions.find((v) => v.versionNumber === note.currentVersionNumber);
  const writable = canWrite(chart?.grant, 'MedicalNote');
  const signatures = canRead(chart?.grant, 'NoteSignature');
  const back = note.encounterId === undefined ? `${base}/notes` : `${base}/encounters/${note.encounterId}`;
  const draft = note.status === 'draft' || note.status === 'under_review';
  return (
    <Stack maw={980}>
      <PageHeader title={note.title} back={back} />
      <Group gap="xs">
        <Badge data-testid="note-status">{t(`workspace.noteStatus.${note.status}`)}</Badge>
        <Badge variant="outline" data-testid="note-version">
          {t('workspace.note.versionN', { n: note.currentVersionNumber })}
        </Badge>
        <Badge variant="light" color="gray">
          {t(`enum.noteType.${note.noteType}`)}
        </Badge>
      </Group>
      {current === undefined ? (
        <Alert color="yellow">{t('workspace.note.versionMissing')}</Alert>
      ) : draft && writable ? (
        <Editor key={current.id} note={note} current={current} versions={versions} />
      ) : (
        <SignedView note={note} versions={versions} writable={writable} />
      )}
      {signatures && current !== undefined && !draft && <CosignPanel note={note} writable={writable} />}
      <VersionsPanel note={note} versions={versions} />
      {!draft && canRead(chart?.grant, 'Comment') && <CommentsPanel about={props.stored} mayAdd={false} />}
    </Stack>
  );
}

function Editor(props: {
  readonly note: Note;
  readonly current: Version;
  readonly versions: readonly Version[];
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const { chart } = usePatientChart();
  const { note, current } = props;
  const draftKey = `note:${current.id}`;
  const [values, setValues] = useState<Soap>(() => {
    const kept = readDraft(draftKey);
    return kept === undefined
      ? soapOf(current)
      : Object.fromEntries(SOAP.map((f) => [f, typeof kept[f] === 'string' ? kept[f] : '']));
  });
  const [hadDraft] = useState(() => readDraft(draftKey) !== undefined);
  const [busy, setBusy] = useState<'save' | 'sign' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [savedAt, setSavedAt] = useState<string | null>(null);
  const change = (field: (typeof SOAP)[number], text: string): void => {
    const next = { ...values, [field]: text };
    setValues(next);
    void keepDraft(session, draftKey, next);
  };
  const base = props.versions.filter((v) => v.versionNumber < current.versionNumber);
  const addendum = current.kind === 'addendum';

  const save = async (): Promise<void> => {
    setBusy('save');
    setError(null);
    try {
      await saveDraft(session, current, values);
      void dropDraft(session, draftKey);
      setSavedAt(formatClock(Date.now()));
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(null);
    }
  };
  const sign = async (): Promise<void> => {
    setBusy('sign');
    setError(null);
    try {
      await saveDraft(session, current, values);
      void dropDraft(session, draftKey);
      await signNote(session, note, current, canWrite(chart?.grant, 'NoteSignature'));
      tell({
        color: 'teal',
        message: t('workspace.note.signed', { n: current.versionNumber }),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(null);
    }
  };
  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
      <Stack>
        <Title order={2} size="h4">
          {t(
            addendum
              ? 'workspace.note.writingAddendum'
              : current.kind === 'amendment'
                ? 'workspace.note.writingAmendment'
                : 'workspace.note.writing',
            { n: current.versionNumber },
          )}
        </Title>
        {current.kind === 'amendment' && current.amendmentReason !== undefined && (
          <Text size="sm">{t('workspace.note.amendmentReason', { reason: current.amendmentReason })}</Text>
        )}
        {addendum && base.length > 0 && (
          <Text size="sm" c="dimmed">
            {t('workspace.note.addendumExplain')}
          </Text>
        )}
        {hadDraft && (
          <Alert color="blue" variant="light">
            {t('records.draftRestored')}
          </Alert>
        )}
        <NotSaved failure={error} />
        {SOAP.map((f) => (
          <Textarea
            key={f}
            id={`soap-${f}`}
            label={t(`fields.${f}`)}
            description={t(`workspace.note.hint.${f}`)}
            autosize
            minRows={3}
            maxRows={16}
            value={values[f] ?? ''}
            onChange={(e) => change(f, e.currentTarget.value)}
          />
        ))}
        <Group justify="space-between" wrap="wrap">
          <Text size="sm" c="dimmed" role="status">
            {savedAt === null
              ? t('workspace.note.notSavedYet')
              : t('workspace.note.savedAt', { when: savedAt })}
          </Text>
          <Group gap="xs">
            <Button
              variant="default"
              leftSection={<IconDeviceFloppy size={18} />}
              loading={busy === 'save'}
              disabled={busy !== null}
              onClick={() => void save()}
            >
              {t('workspace.note.saveDraft')}
            </Button>
            <Button
              leftSection={<IconSignature size={18} />}
              loading={busy === 'sign'}
              disabled={busy !== null}
              onClick={() => void sign()}
            >
              {t('workspace.note.sign')}
            </Button>
          </Group>
        </Group>
        <Text size="xs" c="dimmed">
          {t('workspace.note.signExplain')}
        </Text>
      </Stack>
    </Paper>
  );
}

function SignedView(props: {
  readonly note: Note;
  readonly versions: readonly Version[];
  readonly writable: boolean;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const { note, versions } = props;
  const body = noteBody(note, versions);
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const revise = async (kind: 'amendment' | 'addendum'): Promise<void> => {
    if (kind === 'amendment' && reason.trim() === '') {
      setError(t('workspace.note.reasonRequired'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await openRevision(session, note, versions, kind, kind === 'amendment' ? reason.trim() : undefined);
      setAsking(false);
      setReason('');
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }} data-testid="note-signed">
      <Stack>
        <Group justify="space-between" wrap="wrap">
          <Title order={2} size="h4">
            {t('workspace.note.asSigned')}
          </Title>
          {props.writable && (
            <Group gap="xs">
              <Button
                variant="default"
                leftSection={<IconPencil size={18} />}
                onClick={() => setAsking(true)}
              >
                {t('workspace.note.amend')}
              </Button>
              <Button
                variant="default"
                leftSection={<IconFilePlus size={18} />}
                loading={busy && !asking}
                onClick={() => void revise('addendum')}
              >
                {t('workspace.note.addendum')}
              </Button>
            </Group>
          )}
        </Group>
        {error !== null && !asking && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        {body.map((v) => (
          <Stack key={v.id} gap={6}>
            {v.kind === 'addendum' && (
              <Text size="sm" fw={700}>
                {t('workspace.note.addendumOf', { n: v.versionNumber })}
              </Text>
            )}
            {SOAP.map((f) =>
              v[f] === undefined ? null : (
                <div key={f}>
                  <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
                    {t(`fields.${f}`)}
                  </Text>
                  <Text style={{ whiteSpace: 'pre-wrap' }}>{v[f]}</Text>
                </div>
              ),
            )}
          </Stack>
        ))}
      </Stack>
      <Modal
        opened={asking}
        onClose={() => setAsking(false)}
        title={t('workspace.note.amendTitle')}
        closeButtonProps={{ 'aria-label': t('common.close') }}
      >
        <Stack>
          <Text size="sm">{t('workspace.note.amendExplain')}</Text>
          <Textarea
            id="amendment-reason"
            label={t('workspace.note.amendReason')}
            withAsterisk
            autosize
            minRows={2}
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            error={error}
            data-autofocus
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setAsking(false)}>
              {t('common.cancel')}
            </Button>
            <Button loading={busy} onClick={() => void revise('amendment')}>
              {t('workspace.note.amendStart')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}
