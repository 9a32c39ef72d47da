/**
 * A treatment plan in a patient's chart: authored as a draft (`…/plans/new`), made active, revised (each
 * change a new version with a reason, `…/plans/:id/edit`), completed (`…/plans/:id`). The patient's
 * acknowledgement is shown as the library reports it (`care.plans.list`): of the current version, of an
 * earlier one, or none yet; every version stays, with what changed between each and the one before.
 *
 * | status | actions |
 * |---|---|
 * | draft | edit (no reason needed), make active |
 * | active | revise (a reason), complete |
 * | completed | none: the plan is closed |
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Paper, SimpleGrid, Stack, Text, Textarea, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { tell } from '../../ui/notice';
import { IconCheck, IconEdit, IconPlayerPlay } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import type { PlanView, RecordOf, StoredRecord } from '@hale/client';
import { useHaleSession, useObserved, useRecord } from '@hale/react';
import { FieldInput } from '../../records/field-input';
import { dropDraft, readDraft, saveDraft, type DraftValues } from '../../records/drafts';
import type { FieldSpec } from '../../records/kinds';
import { kindDescription } from '@hale/model';
import { formatDate } from '../../records/format';
import { recordInput, valuesFromRecord, emptyValues } from '../../records/values';
import { addRecord, fieldsOf, updateRecord } from '../../records/write';
import { HistoryPanel } from '../../records/history-panel';
import { PageHeader } from '../../ui/page-header';
import { usePatientChart } from '../patients/chart-context';
import { canWrite, chartBase } from '../patients/grant';
import { refusalText } from '../form-errors';
import { Card, errorText, Field } from '../ui';
import { NotSaved } from '../../ui/not-saved';
import { planFieldLabel, planValue } from '../../care/plans/plan-words';
import { PlanAims } from '../../care/plans/plan-aims';

/** The plan's form: its kind's fields but the status, which the screen's own buttons set. */
const FIELDS: readonly FieldSpec[] = (kindDescription('TreatmentPlan').screen?.form ?? []).filter(
  (f) => f.name !== 'status',
);
const SPEC = { fields: FIELDS } as unknown as Parameters<typeof emptyValues>[0];
const REASON = 'changeReason';

export function PlanScreen(): ReactNode {
  const { id } = useParams();
  const location = useLocation();
  if (id === undefined) return <PlanForm key="new" />;
  return <PlanLoader key={id} id={id} edit={location.pathname.endsWith('/edit')} />;
}

function PlanLoader(props: { readonly id: string; readonly edit: boolean }): ReactNode {
  const { t } = useTranslation();
  const stored = useRecord<'TreatmentPlan'>(props.id);
  if (stored === null) return <Text>{t('records.notFound')}</Text>;
  return props.edit ? <PlanForm stored={stored} /> : <PlanDetail stored={stored} />;
}

/** The plan's view from `care.plans.list` (its acknowledgement), live. */
export function usePlanView(id: string): PlanView | undefined {
  const session = useHaleSession();
  const plans = useObserved(session.care.plans.list);
  return plans.find((p) => p.record.id === id);
}

export function AcknowledgementBadge(props: { readonly plan: RecordOf<'TreatmentPlan'> }): ReactNode {
  const { t } = useTranslation();
  const view = usePlanView(props.plan.id);
  const ack = view?.acknowledgement ?? null;
  if (ack === null) {
    return (
      <Badge color="gray" variant="light" data-testid="plan-ack">
        {t(props.plan.status === 'draft' ? 'workspace.plan.ackDraft' : 'workspace.plan.ackNone')}
      </Badge>
    );
  }
  return (
    <Badge
      color={ack.current ? 'teal' : 'orange'}
      variant="light"
      data-testid="plan-ack"
      h="auto"
      py={4}
      styles={{ label: { whiteSpace: 'normal', overflow: 'visible' } }}
    >
      {t(ack.current ? 'workspace.plan.ackCurrent' : 'workspace.plan.ackEarlier', {
        version: ack.version,
        when: formatDate(ack.at),
      })}
    </Badge>
  );
}

function PlanDetail(props: { readonly stored: StoredRecord<'TreatmentPlan'> }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const { patientId, chart } = usePatientChart();
  const plan = props.stored.record;
  const base = chartBase(patientId);
  const writable = canWrite(chart?.grant, 'TreatmentPlan');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const view = usePlanView(plan.id);
  const ack = view?.acknowledgement ?? null;

  const move = async (status: 'active' | 'completed'): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await updateRecord(
        session,
        'TreatmentPlan',
        plan.id,
        { status },
        t(status === 'active' ? 'workspace.plan.reasonActivated' : 'workspace.plan.reasonCompleted'),
      );
      tell({
        color: 'teal',
        message: t(status === 'active' ? 'workspace.plan.activated' : 'workspace.plan.completed'),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  const diffs = useMemo(() => {
    const out = [];
    for (let v = plan.version; v > 1; v -= 1) {
      try {
        out.push(session.care.plans.diff(plan, v - 1, v));
      } catch {
        // A version the record no longer carries: nothing to compare.
      }
    }
    return out;
  }, [session, plan]);

  return (
    <Stack maw={980}>
      <PageHeader
        title={plan.summary}
        back={`${base}/plans`}
        actions={
          writable && plan.status !== 'completed' ? (
            <>
              <Button
                component={Link}
                to={`${base}/plans/${plan.id}/edit`}
                variant="default"
                leftSection={<IconEdit size={18} />}
              >
                {t(plan.status === 'draft' ? 'common.edit' : 'workspace.plan.revise')}
              </Button>
              {plan.status === 'draft' && (
                <Button
                  leftSection={<IconPlayerPlay size={18} />}
                  loading={busy}
                  onClick={() => void move('active')}
                >
                  {t('workspace.plan.activate')}
                </Button>
              )}
              {plan.status === 'active' && (
                <Button
                  leftSection={<IconCheck size={18} />}
                  loading={busy}
                  variant="light"
                  onClick={() => void move('completed')}
                >
                  {t('workspace.plan.complete')}
                </Button>
              )}
            </>
          ) : undefined
        }
      />
      {error !== null && (
        <Alert color="red" role="alert" title={t('records.notDone')}>
          {error}
        </Alert>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <Stack gap="md">
          <Group gap="xs">
            <Badge data-testid="plan-status">{t(`enum.planStatus.${plan.status}`)}</Badge>
            <Badge variant="outline">{t('workspace.plan.versionN', { n: plan.version })}</Badge>
            <AcknowledgementBadge plan={plan} />
          </Group>
          {ack !== null && !ack.current && (
            <Text size="sm" c="dimmed">
              {t('workspace.plan.ackEarlierExplain', { version: plan.version })}
            </Text>
          )}
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <Field label={t('fields.effectiveFrom')}>
              {plan.effectiveFrom === undefined ? '' : formatDate(plan.effectiveFrom)}
            </Field>
            <Field label={t('fields.effectiveTo')}>
              {plan.effectiveTo === undefined ? '' : formatDate(plan.effectiveTo)}
            </Field>
          </SimpleGrid>
          <Field label={t('fields.details')}>{plan.details ?? ''}</Field>
          <PlanAims plan={plan} />
        </Stack>
      </Paper>
      {diffs.length > 0 && (
        <Card title={t('workspace.plan.changes')}>
          <Stack gap="sm">
            {diffs.map((d) => (
              <div key={d.to} data-testid={`plan-diff-${d.to}`}>
                <Text size="sm" fw={600}>
                  {t('workspace.plan.changeHeading', { from: d.from, to: d.to, when: formatDate(d.at) })}
                  {d.reason === undefined ? '' : ` — ${d.reason}`}
                </Text>
                {d.changes.map((c) => (
                  <Text key={c.field} size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                    <b>{planFieldLabel(t, c.field)}:</b> {planValue(t, c.field, c.before)} →{' '}
                    {planValue(t, c.field, c.after)}
                  </Text>
                ))}
              </div>
            ))}
          </Stack>
        </Card>
      )}
      <HistoryPanel stored={props.stored} />
    </Stack>
  );
}

function PlanForm(props: { readonly stored?: StoredRecord<'TreatmentPlan'> }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const { patientId, name } = usePatientChart();
  const plan = props.stored?.record;
  const needsReason = plan !== undefined && plan.status !== 'draft';
  const base = chartBase(patientId);
  const draftKey = `${patientId}:plan:${plan?.id ?? 'new'}`;
  const initial = useMemo<DraftValues>(
    () =>
      readDraft(draftKey) ??
      (plan === undefined
        ? emptyValues(SPEC, [{ name: REASON, type: 'textarea' }])
        : valuesFromRecord(SPEC, fieldsOf(plan), [{ name: REASON, type: 'textarea' }])),
    [draftKey],
  );
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useForm<DraftValues>({
    mode: 'uncontrolled',
    initialValues: initial,
    onValuesChange: (values) => void saveDraft(session, draftKey, values),
    validate: {
      [REASON]: (value) =>
        needsReason && (typeof value !== 'string' || value.trim() === '')
          ? t('workspace.plan.reasonRequired')
          : null,
    },
  });
  const known = new Set([...FIELDS.map((f) => f.name), REASON]);

  const submit = async (values: DraftValues): Promise<void> => {
    setFailure(null);
    setBusy(true);
    try {
      let id: string;
      if (plan === undefined) {
        id = (
          await addRecord(
            session,
            'TreatmentPlan',
            { ...recordInput(FIELDS, values, false), status: 'draft' },
            { patientId },
          )
        ).id;
      } else {
        const reason = typeof values[REASON] === 'string' ? values[REASON].trim() : '';
        await updateRecord(
          session,
          'TreatmentPlan',
          plan.id,
          recordInput(FIELDS, values, true),
          reason === '' ? undefined : reason,
        );
        id = plan.id;
      }
      void dropDraft(session, draftKey);
      tell({
        color: 'teal',
        message: t('workspace.plan.saved'),
        closeButtonProps: { 'aria-label': t('common.close') },
      });
      void navigate(`${base}/plans/${id}`, { replace: true });
    } catch (e) {
      setFailure(refusalText(t, e, known, form, (f) => (f === 'reason' ? REASON : f)));
    } finally {
      setBusy(false);
    }
  };
  const back = plan === undefined ? base : `${base}/plans/${plan.id}`;
  /** The form's input for a field of FIELDS, by name. */
  const input = (name: string): ReactNode => {
    const field = FIELDS.find((f) => f.name === name);
    return field === undefined ? null : <FieldInput field={field} form={form} />;
  };
  return (
    <Stack maw={860}>
      <PageHeader
        title={t(plan === undefined ? 'workspace.plan.newTitle' : 'workspace.plan.editTitle', { name })}
        back={back}
      />
      {plan === undefined && (
        <Text size="sm" c="dimmed">
          {t('workspace.plan.newExplain')}
        </Text>
      )}
      <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
        <form onSubmit={form.onSubmit((values) => void submit(values))} noValidate>
          <Stack>
            <NotSaved failure={failure} />
            {input('summary')}
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              {input('effectiveFrom')}
              {input('effectiveTo')}
            </SimpleGrid>
            {input('details')}
            <SimpleGrid cols={{ base: 1, sm: 3 }}>
              {input('goal.testName')}
              {input('goal.testCode')}
              {input('goal.target')}
            </SimpleGrid>
            <SimpleGrid cols={{ base: 1, sm: 3 }}>
              {input('recheck.testName')}
              {input('recheck.testCode')}
              {input('recheck.due')}
            </SimpleGrid>
            {plan !== undefined && (
              <Textarea
                id={`field-${REASON}`}
                label={t('fields.changeReason')}
                description={t(needsReason ? 'workspace.plan.reasonHint' : 'hints.changeReason')}
                withAsterisk={needsReason}
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
                {t(plan === undefined ? 'workspace.plan.saveDraft' : 'common.save')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      {plan !== undefined && (
        <Title order={2} size="h5" c="dimmed">
          {t('workspace.plan.versionN', { n: plan.version })}
        </Title>
      )}
    </Stack>
  );
}
