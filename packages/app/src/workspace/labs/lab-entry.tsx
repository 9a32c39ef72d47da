/**
 * Enter a lab result in a patient's chart (`…/chart/labs/new`), or correct one (`…/chart/labs/:id/edit`):
 * test, value, units, reference range, when taken, status. A correction is a new version of the result
 * (the library keeps the earlier one with its provenance) and needs a reason; a final result corrected
 * becomes `corrected` unless another status is chosen. What was typed is kept as a draft until saved.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Paper, SimpleGrid, Stack, Text, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { tell } from '../../ui/notice';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import type { StoredRecord } from '@hale/client';
import { useHaleSession, useRecord } from '@hale/react';
import { FieldInput } from '../../records/field-input';
import { dropDraft, readDraft, saveDraft, type DraftValues } from '../../records/drafts';
import { KINDS } from '../../records/kinds';
import { emptyValues, recordInput, valuesFromRecord } from '../../records/values';
import { addRecord, fieldsOf, updateRecord } from '../../records/write';
import { PageHeader } from '../../ui/page-header';
import { dayjs } from '../../boot/dayjs';
import { usePatientChart } from '../patients/chart-context';
import { chartBase } from '../patients/grant';
import { refusalText } from '../form-errors';
import { NotSaved } from '../../ui/not-saved';

const spec = KINDS.labs;
const REASON = 'changeReason';
const FINAL_LIKE = new Set(['final', 'amended', 'corrected']);

export function LabEntryScreen(): ReactNode {
  const { id } = useParams();
  return id === undefined ? <LabForm key="new" /> : <Correction key={id} id={id} />;
}

function Correction(props: { readonly id: string }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord<'LabResult'>(props.id);
  if (stored === null) return <Text>{t('records.notFound')}</Text>;
  return <LabForm stored={stored} />;
}

function LabForm(props: { readonly stored?: StoredRecord<'LabResult'> }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const { patientId, name } = usePatientChart();
  const stored = props.stored?.record;
  const correcting = stored !== undefined;
  const base = chartBase(patientId);
  const draftKey = `${patientId}:lab:${stored?.id ?? 'new'}`;
  const extra = useMemo(
    () => (correcting ? [{ name: REASON, type: 'textarea' as const }] : []),
    [correcting],
  );
  const initial = useMemo<DraftValues>(() => {
    const kept = readDraft(draftKey);
    if (kept !== undefined) return kept;
    if (stored === undefined) {
      return { ...emptyValues(spec), effectiveAt: dayjs().format('YYYY-MM-DDTHH:mm') };
    }
    const values = valuesFromRecord(spec, fieldsOf(stored), extra);
    return FINAL_LIKE.has(stored.status) ? { ...values, status: 'corrected' } : values;
    // Only when the form opens: a later sync of the result does not overwrite typing.
  }, [draftKey]);
  const [hadDraft] = useState(() => readDraft(draftKey) !== undefined);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useForm<DraftValues>({
    mode: 'uncontrolled',
    initialValues: initial,
    onValuesChange: (values) => void saveDraft(session, draftKey, values),
    validate: {
      [REASON]: (value) =>
        correcting && (typeof value !== 'string' || value.trim() === '')
          ? t('workspace.lab.reasonRequired')
          : null,
    },
  });
  const known = new Set([...spec.fields.map((f) => f.name), REASON]);

  const submit = async (values: DraftValues): Promise<void> => {
    setFailure(null);
    setBusy(true);
    try {
      let id: string;
      if (stored === undefined) {
        id = (await addRecord(session, 'LabResult', recordInput(spec.fields, values, false), { patientId }))
          .id;
      } else {
        const reason = typeof values[REASON] === 'string' ? values[REASON].trim() : '';
        await updateRecord(session, 'LabResult', stored.id, recordInput(spec.fields, values, true), reason);
        id = stored.id;
      }
      void dropDraft(session, draftKey);
      tell({
        color: 'teal',
        message: t(correcting ? 'workspace.lab.corrected' : 'workspace.lab.saved'),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
      void navigate(`${base}/labs/${id}`, { replace: true });
    } catch (e) {
      setFailure(refusalText(t, e, known, form, (f) => (f === 'reason' ? REASON : f)));
    } finally {
      setBusy(false);
    }
  };

  const back = stored === undefined ? base : `${base}/labs/${stored.id}`;
  return (
    <Stack maw={860}>
      <PageHeader
        title={t(correcting ? 'workspace.lab.correctTitle' : 'workspace.lab.newTitle', { name })}
        back={back}
      />
      {correcting && (
        <Text size="sm" c="dimmed">
          {t('workspace.lab.correctExplain', { version: stored.version })}
        </Text>
      )}
      {hadDraft && (
        <Alert color="blue" variant="light">
          {t('records.draftRestored')}
        </Alert>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <form onSubmit={form.onSubmit((values) => void submit(values))} noValidate>
          <Stack>
            <NotSaved failure={failure} />
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              {spec.fields.map((field) => (
                <FieldInput key={field.name} field={field} form={form} />
              ))}
            </SimpleGrid>
            {correcting && (
              <Textarea
                id={`field-${REASON}`}
                label={t('workspace.lab.reason')}
                description={t('workspace.lab.reasonHint')}
                withAsterisk
                autosize
                minRows={2}
                key={form.key(REASON)}
                {...form.getInputProps(REASON)}
              />
            )}
            <Group justify="flex-end">
              <Button variant="default" component={Link} to={back}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" loading={busy}>
                {t(correcting ? 'workspace.lab.saveCorrection' : 'common.save')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </Stack>
  );
}
