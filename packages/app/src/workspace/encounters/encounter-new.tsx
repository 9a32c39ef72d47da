/**
 * Start an encounter in a patient's chart (`…/chart/encounters/new`): its type, reason, department and
 * place; it starts now, in progress, with this clinician as the attending one and a visit number made
 * from the time. Then the encounter opens, where its note, results and plan are written.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Button, Group, Paper, SimpleGrid, Stack, Text } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { ENCOUNTER_TYPES } from '@hale/model';
import { useHaleSession } from '@hale/react';
import { FieldInput } from '../../records/field-input';
import { dropDraft, readDraft, saveDraft, type DraftValues } from '../../records/drafts';
import type { FieldSpec } from '../../records/kinds';
import { recordInput } from '../../records/values';
import { addRecord } from '../../records/write';
import { dayjs } from '../../boot/dayjs';
import { PageHeader } from '../../ui/page-header';
import { usePatientChart } from '../patients/chart-context';
import { chartBase } from '../patients/grant';
import { refusalText } from '../form-errors';
import { NotSaved } from '../../ui/not-saved';

const FIELDS: readonly FieldSpec[] = [
  { name: 'type', type: 'select', options: ENCOUNTER_TYPES, enumName: 'encounterType', required: true },
  { name: 'reason', type: 'text' },
  { name: 'department', type: 'text' },
  { name: 'location', type: 'text' },
];

export function EncounterNewScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const { patientId, name } = usePatientChart();
  const base = chartBase(patientId);
  const draftKey = `${patientId}:encounter:new`;
  const initial = useMemo<DraftValues>(
    () => readDraft(draftKey) ?? { type: 'outpatient', reason: '', department: '', location: '' },
    [draftKey],
  );
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useForm<DraftValues>({
    mode: 'uncontrolled',
    initialValues: initial,
    onValuesChange: (values) => void saveDraft(session, draftKey, values),
  });
  const submit = async (values: DraftValues): Promise<void> => {
    setFailure(null);
    setBusy(true);
    try {
      const now = dayjs();
      const encounter = await addRecord(
        session,
        'Encounter',
        {
          ...recordInput(FIELDS, values, false),
          encounterNumber: `V-${now.format('YYYYMMDD-HHmmss')}`,
          clinicianId: session.account.accountId,
          startedAt: now.format('YYYY-MM-DDTHH:mm:ssZ'),
          status: 'in-progress',
        },
        { patientId },
      );
      void dropDraft(session, draftKey);
      void navigate(`${base}/encounters/${encounter.id}`, { replace: true });
    } catch (e) {
      setFailure(refusalText(t, e, new Set(FIELDS.map((f) => f.name)), form));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack maw={820}>
      <PageHeader title={t('workspace.encounter.newTitle', { name })} back={base} />
      <Text size="sm" c="dimmed">
        {t('workspace.encounter.newExplain')}
      </Text>
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <form onSubmit={form.onSubmit((values) => void submit(values))} noValidate>
          <Stack>
            <NotSaved failure={failure} />
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              {FIELDS.map((field) => (
                <FieldInput key={field.name} field={field} form={form} />
              ))}
            </SimpleGrid>
            <Group justify="flex-end">
              <Button variant="default" component={Link} to={base}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" loading={busy}>
                {t('workspace.encounter.start')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </Stack>
  );
}
