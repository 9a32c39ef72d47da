/**
 * Add or edit a record of a kind (`/chart/:slug/new`, `/chart/:slug/:id/edit`).
 *
 * | case | what happens |
 * |---|---|
 * | typing | the values are kept as a draft (drafts.ts: memory, then sealed on the device) under the form's key at every change |
 * | opening | a draft kept on the device (after a reload, a crash or a lock) is read first and restored, said so |
 * | the model refuses | each issue shown at its field (HaleError `issues`); nothing stored; the draft stays |
 * | another refusal | said above the form in words; the draft stays |
 * | saved | stored on this device at once (sync follows); the draft is dropped; the record opens; until it is drawn, Save stays busy and typing keeps no draft |
 * | opened again | every arrival (the router's location key) is a new form, even at the same address |
 * | a note | MedicalNote plus its current NoteVersion (the SOAP text), written together |
 */
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Loader, Paper, SimpleGrid, Stack, Text, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { tell } from '../ui/notice';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useLocation, useNavigate, useParams } from 'react-router';
import { isHaleError, type HaleSession, type WriteOp } from '@hale/client';
import { newId } from '@hale/model';
import { useRecord, useRecords, useSyncStatus, useHaleSession } from '@hale/react';
import { FieldInput } from './field-input';
import { dropDraft, loadDraft, readDraft, saveDraft, type DraftValues } from './drafts';
import { isKindSlug, KINDS, NOTE_VERSION_FIELDS, type KindSpec } from './kinds';
import { emptyValues, recordInput, valuesFromRecord } from './values';
import { addRecord, fieldsOf, updateRecord } from './write';
import { formFieldOf, issueText } from '../i18n/field-errors';
import { PageHeader } from '../ui/page-header';
import { patientQuery, useChartScope, type ChartScope } from './chart-scope';
import { NotSaved } from '../ui/not-saved';
import { haleErrorText } from '../i18n/error-words';

const CHANGE_REASON = 'changeReason';

export function RecordFormScreen(): ReactNode {
  const { slug, id } = useParams();
  const scope = useChartScope();
  // Each arrival at the form is a new form, even at the same address: a save's move to the record may not
  // have been shown yet when the person (or a test) opens "Add" again, and the saved values must not stay.
  const visit = useLocation().key;
  if (!isKindSlug(slug)) return <Navigate to="/" replace />;
  const spec = KINDS[slug];
  const chart = scope.patientId === undefined ? '' : `${scope.patientId}:`;
  if (id === undefined && spec.uploaded) return <Navigate to="/documents/upload" replace />;
  // Keyed: another kind's or record's form is a new form, never the state of the one before.
  return id === undefined ? (
    <WithDraft key={`${chart}${slug}:new:${visit}`} draftKey={`${chart}${slug}:new`}>
      <FormBody spec={spec} />
    </WithDraft>
  ) : (
    <WithDraft key={`${chart}${slug}:${id}:${visit}`} draftKey={`${chart}${slug}:${id}`}>
      <EditLoader spec={spec} id={id} />
    </WithDraft>
  );
}

/** Renders the form once the draft kept on the device for it (if any) is read. */
function WithDraft(props: { readonly draftKey: string; readonly children: ReactNode }): ReactNode {
  const session = useHaleSession();
  const [ready, setReady] = useState(() => readDraft(props.draftKey) !== undefined);
  useEffect(() => {
    if (ready) return;
    let live = true;
    void loadDraft(session, props.draftKey).finally(() => live && setReady(true));
    return () => {
      live = false;
    };
  }, [session, props.draftKey, ready]);
  return ready ? props.children : <Loader m="md" />;
}

function EditLoader(props: { readonly spec: KindSpec; readonly id: string }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord(props.id);
  const versions = useRecords('NoteVersion', patientQuery(useChartScope()));
  if (stored === null) return <Text p="md">{t('records.notFound')}</Text>;
  const fields = { ...fieldsOf(stored.record) };
  if (props.spec.kind === 'MedicalNote') {
    const current = versions.items.find(
      (v) => v.record.noteId === props.id && v.record.versionNumber === fields['currentVersionNumber'],
    );
    if (current !== undefined) for (const f of NOTE_VERSION_FIELDS) fields[f] = current.record[f];
    return <FormBody spec={props.spec} id={props.id} stored={fields} noteVersionId={current?.record.id} />;
  }
  return <FormBody spec={props.spec} id={props.id} stored={fields} />;
}

/**
 * A note's header and its current text, written as one action (`records.writeAll`): both are checked before
 * either is written, so a refused text (a signed version is final) leaves the header as it was too.
 */
async function writeNote(
  session: HaleSession,
  values: DraftValues,
  spec: KindSpec,
  stored: Readonly<Record<string, unknown>> | undefined,
  id: string | undefined,
  noteVersionId: string | undefined,
  scope: ChartScope,
): Promise<string> {
  const noteFields = spec.fields.filter((f) => !(NOTE_VERSION_FIELDS as readonly string[]).includes(f.name));
  const soapFields = spec.fields.filter((f) => (NOTE_VERSION_FIELDS as readonly string[]).includes(f.name));
  const at = patientQuery(scope);
  if (id === undefined || stored === undefined) {
    const noteId = newId();
    await session.records.writeAll([
      {
        op: 'add',
        kind: 'MedicalNote',
        input: {
          ...recordInput(noteFields, values, false),
          id: noteId,
          currentVersionNumber: 1,
          status: 'draft',
        } as never,
        options: at,
      },
      {
        op: 'add',
        kind: 'NoteVersion',
        input: {
          ...recordInput(soapFields, values, false),
          noteId,
          versionNumber: 1,
          kind: 'original',
        } as never,
        options: at,
      },
    ]);
    return noteId;
  }
  const header: WriteOp = {
    op: 'update',
    kind: 'MedicalNote',
    id,
    patch: recordInput(noteFields, values, true),
  };
  const text: WriteOp =
    noteVersionId === undefined
      ? {
          op: 'add',
          kind: 'NoteVersion',
          input: {
            ...recordInput(soapFields, values, false),
            noteId: id,
            versionNumber:
              typeof stored['currentVersionNumber'] === 'number' ? stored['currentVersionNumber'] : 1,
            kind: 'original',
          } as never,
          options: at,
        }
      : {
          op: 'update',
          kind: 'NoteVersion',
          id: noteVersionId,
          patch: recordInput(soapFields, values, true),
        };
  await session.records.writeAll([header, text]);
  return id;
}

function FormBody(props: {
  readonly spec: KindSpec;
  readonly id?: string;
  readonly stored?: Readonly<Record<string, unknown>>;
  readonly noteVersionId?: string | undefined;
}): ReactNode {
  const { spec, id, stored, noteVersionId } = props;
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const scope = useChartScope();
  const draftKey = `${scope.patientId === undefined ? '' : `${scope.patientId}:`}${spec.slug}:${id ?? 'new'}`;
  const extra = useMemo(
    () => (id !== undefined && spec.takesReason ? [{ name: CHANGE_REASON, type: 'textarea' as const }] : []),
    [id, spec.takesReason],
  );
  const initial = useMemo<DraftValues>(
    () =>
      readDraft(draftKey) ??
      (stored === undefined ? emptyValues(spec, extra) : valuesFromRecord(spec, stored, extra)),
    // Only when the form opens: later changes of the stored record do not overwrite typing.
    [draftKey],
  );
  const [hadDraft] = useState(() => readDraft(draftKey) !== undefined);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const syncStatus = useSyncStatus();
  const [kept, setKept] = useState<'no' | 'saving' | 'kept'>('no');
  // Saved: the form stays on screen until the record's screen is drawn; it neither saves again nor keeps a draft.
  const saved = useRef(false);
  const form = useForm<DraftValues>({
    mode: 'uncontrolled',
    initialValues: initial,
    onValuesChange: (values) => {
      if (saved.current) return;
      setKept('saving');
      void saveDraft(session, draftKey, values).then(() => setKept('kept'));
    },
  });
  useEffect(() => setFailure(null), [draftKey]);

  const submit = async (values: DraftValues): Promise<void> => {
    if (saved.current) return;
    setFailure(null);
    setBusy(true);
    try {
      let savedId: string;
      if (spec.kind === 'MedicalNote') {
        savedId = await writeNote(session, values, spec, stored, id, noteVersionId, scope);
      } else if (id === undefined) {
        const input = recordInput(spec.fields, values, false);
        for (const field of spec.stampedOnAdd) input[field] = new Date().toISOString();
        savedId = (await addRecord(session, spec.kind, input, patientQuery(scope))).id;
      } else {
        const reason = typeof values[CHANGE_REASON] === 'string' ? values[CHANGE_REASON].trim() : '';
        await updateRecord(
          session,
          spec.kind,
          id,
          recordInput(spec.fields, values, true),
          reason === '' ? undefined : reason,
        );
        savedId = id;
      }
      saved.current = true;
      await dropDraft(session, draftKey);
      tell({
        color: 'teal',
        // Online, the change goes out now; only a device that cannot reach the server says it waits.
        message: t(
          syncStatus === 'online' || syncStatus === 'syncing' ? 'records.saved' : 'records.savedLocally',
        ),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
      void navigate(`${scope.base}/${spec.slug}/${savedId}`, { replace: true });
    } catch (e) {
      if (isHaleError(e, 'VALIDATION_FAILED') && e.issues !== undefined) {
        const known = new Set([...spec.fields.map((f) => f.name), ...extra.map((f) => f.name)]);
        const errors: Record<string, string> = {};
        const rest: string[] = [];
        for (const issue of e.issues) {
          const field = formFieldOf(issue.field === 'reason' ? CHANGE_REASON : issue.field);
          if (known.has(field)) errors[field] = issueText(t, issue);
          else rest.push(`${t(`fields.${field}`, { defaultValue: field })}: ${issueText(t, issue)}`);
        }
        form.setErrors(errors);
        setFailure(rest.length > 0 ? rest.join('\n') : t('records.fixFields'));
      } else if (isHaleError(e)) {
        setFailure(haleErrorText(t, e, 'recordError'));
      } else {
        setFailure(e instanceof Error ? e.message : String(e));
      }
    } finally {
      // Once saved, Save stays busy until the record's screen replaces the form.
      if (!saved.current) setBusy(false);
    }
  };

  const title = t(id === undefined ? `kinds.${spec.slug}.add` : `kinds.${spec.slug}.edit`);
  const back = id === undefined ? `${scope.base}/${spec.slug}` : `${scope.base}/${spec.slug}/${id}`;
  return (
    <Stack maw={820}>
      <PageHeader title={title} back={back} />
      {hadDraft && (
        <Alert color="blue" variant="light">
          <Group justify="space-between">
            <Text size="sm">{t('records.draftRestored')}</Text>
            <Button
              size="xs"
              variant="subtle"
              onClick={() => {
                void dropDraft(session, draftKey);
                form.setValues(
                  stored === undefined ? emptyValues(spec, extra) : valuesFromRecord(spec, stored, extra),
                );
              }}
            >
              {t('records.discardDraft')}
            </Button>
          </Group>
        </Alert>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <form onSubmit={form.onSubmit((values) => void submit(values))} noValidate>
          <Stack>
            <NotSaved failure={failure} />
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              {spec.fields.map((field) =>
                field.type === 'textarea' ? null : <FieldInput key={field.name} field={field} form={form} />,
              )}
            </SimpleGrid>
            {spec.fields
              .filter((f) => f.type === 'textarea')
              .map((field) => (
                <FieldInput key={field.name} field={field} form={form} />
              ))}
            {extra.length > 0 && (
              <Textarea
                id="field-changeReason"
                label={t('fields.changeReason')}
                description={t('hints.changeReason')}
                autosize
                minRows={2}
                key={form.key(CHANGE_REASON)}
                {...form.getInputProps(CHANGE_REASON)}
              />
            )}
            <Group justify="flex-end">
              <Text
                size="xs"
                c="dimmed"
                mr="auto"
                data-testid="draft-state"
                data-state={kept}
                aria-live="polite"
              >
                {kept === 'kept' ? t('drafts.kept') : ''}
              </Text>
              <Button variant="default" component={Link} to={back}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" loading={busy}>
                {t('common.save')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </Stack>
  );
}
