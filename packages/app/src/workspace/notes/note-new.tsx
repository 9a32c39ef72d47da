/**
 * Begin a note (`…/chart/notes/new`, `?encounter=<id>` to attach it to an encounter): its title and type;
 * the note is created as a draft with an empty first version, and its editor opens.
 */
import { useState, type ReactNode } from 'react';
import { Button, Group, NativeSelect, Paper, Stack, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { NOTE_TYPES } from '@hale/model';
import { useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { usePatientChart } from '../patients/chart-context';
import { chartBase } from '../patients/grant';
import { errorText } from '../ui';
import { createNote } from './note-actions';
import { NotSaved } from '../../ui/not-saved';

export function NoteNewScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const encounterId = params.get('encounter') ?? undefined;
  const { patientId, name } = usePatientChart();
  const base = chartBase(patientId);
  const [title, setTitle] = useState(t('workspace.note.defaultTitle'));
  const [noteType, setNoteType] = useState<(typeof NOTE_TYPES)[number]>('progress');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const back = encounterId === undefined ? base : `${base}/encounters/${encounterId}`;
  const submit = async (): Promise<void> => {
    setError(null);
    if (title.trim() === '') {
      setError(t('fieldError.required'));
      return;
    }
    setBusy(true);
    try {
      const note = await createNote(session, patientId, {
        title: title.trim(),
        noteType,
        ...(encounterId === undefined ? {} : { encounterId }),
      });
      void navigate(`${base}/notes/${note.id}`, { replace: true });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack maw={720}>
      <PageHeader title={t('workspace.note.newTitle', { name })} back={back} />
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <Stack>
            <NotSaved failure={error} />
            <TextInput
              id="field-title"
              label={t('fields.title')}
              withAsterisk
              value={title}
              onChange={(e) => setTitle(e.currentTarget.value)}
            />
            <NativeSelect
              id="field-noteType"
              label={t('fields.noteType')}
              value={noteType}
              onChange={(e) => setNoteType(e.currentTarget.value as (typeof NOTE_TYPES)[number])}
              data={NOTE_TYPES.map((v) => ({ value: v, label: t(`enum.noteType.${v}`) }))}
            />
            <Text size="sm" c="dimmed">
              {t('workspace.note.newExplain')}
            </Text>
            <Group justify="flex-end">
              <Button variant="default" component={Link} to={back}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" loading={busy}>
                {t('workspace.note.begin')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </Stack>
  );
}
