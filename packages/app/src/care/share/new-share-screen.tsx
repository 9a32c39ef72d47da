/**
 * Share with a clinician (`/care/sharing/new`, `?invite=…` from a link, `?to=<account>` from another screen):
 * four steps — the clinician; their key compared (skipped when an invite checked it); what the sharing is
 * for (a preset the person may adjust per record kind: read, or read and write), until when and why; a
 * review in plain words (what they will see and can do, until when), then the grant.
 *
 * Invariants: nothing is granted before the review's button; what the person chose is kept in memory for
 * the session (leaving the screen or a refused grant loses nothing; a lock forgets it with the keys).
 * Failure modes: a refused grant is said in words at the review, the choices kept; KEY_CHANGED (the key
 * changed between the comparison and the grant) goes back to the comparison.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Paper, Stack, Stepper, Table, Text } from '@mantine/core';
import { tell } from '../../ui/notice';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router';
import { isHaleError, type HaleSession } from '@hale/client';
import { PageHeader } from '../../ui/page-header';
import { careErrorText } from '../errors';
import { usePersonName } from '../people';
import { streamLabel } from '../streams';
import { ChooseStep, type Chosen } from './choose-step';
import { CompareStep } from './compare-step';
import { ScopeStep } from './scope-step';
import { SharePreview } from './share-preview';
import { EMPTY_FORM, endsAt, grantRequestOf, scopeOf, type ShareForm } from './scope';
import { useHaleSession } from '@hale/react';

/** The choices of the form in progress, kept for the session that made them (a lock opens a new one). */
let kept: { session: HaleSession | null; chosen: Chosen | null; form: ShareForm; step: number } = {
  session: null,
  chosen: null,
  form: EMPTY_FORM,
  step: 0,
};
const forgetShareDraft = (session: HaleSession | null): void => {
  kept = { session, chosen: null, form: EMPTY_FORM, step: 0 };
};

export function NewShareScreen(): ReactNode {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const session = useHaleSession();
  if (kept.session !== session) forgetShareDraft(session);
  const invite = params.get('invite');
  const to = params.get('to');
  const start =
    invite !== null
      ? { chosen: null, form: kept.form, step: 0 }
      : to !== null && to !== kept.chosen?.accountId
        ? { chosen: { accountId: to, fromInvite: false }, form: kept.form, step: 1 }
        : kept;
  const [chosen, setChosenState] = useState<Chosen | null>(start.chosen);
  const [form, setFormState] = useState<ShareForm>(start.form);
  const [step, setStepState] = useState(start.step);
  const setChosen = (c: Chosen | null): void => {
    kept = { ...kept, chosen: c };
    setChosenState(c);
  };
  const setForm = (f: ShareForm): void => {
    kept = { ...kept, form: f };
    setFormState(f);
  };
  const setStep = (s: number): void => {
    kept = { ...kept, step: s };
    setStepState(s);
  };

  return (
    <Stack maw={880}>
      <PageHeader title={t('care.share.title')} back="/care/sharing" />
      <Stepper
        active={step}
        size="sm"
        allowNextStepsSelect={false}
        onStepClick={(s) => s < step && setStep(s)}
      >
        <Stepper.Step label={t('care.share.step1')} />
        <Stepper.Step label={t('care.share.step2')} />
        <Stepper.Step label={t('care.share.step3')} />
        <Stepper.Step label={t('care.share.step4')} />
      </Stepper>
      {step === 0 && (
        <ChooseStep
          invite={invite}
          onChosen={(c) => {
            setChosen(c);
            setStep(c.fromInvite ? 2 : 1);
          }}
        />
      )}
      {step === 1 && chosen !== null && (
        <CompareStep accountId={chosen.accountId} onCompared={() => setStep(2)} onBack={() => setStep(0)} />
      )}
      {step === 2 && chosen !== null && (
        <ScopeStep accountId={chosen.accountId} form={form} onChange={setForm} onNext={() => setStep(3)} />
      )}
      {step === 3 && chosen !== null && (
        <ReviewStep chosen={chosen} form={form} onEdit={() => setStep(2)} onKeyChanged={() => setStep(1)} />
      )}
    </Stack>
  );
}

function ReviewStep(props: {
  readonly chosen: Chosen;
  readonly form: ShareForm;
  readonly onEdit: () => void;
  readonly onKeyChanged: () => void;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const name = usePersonName(props.chosen.accountId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const scope = scopeOf(props.form);
  const end = endsAt(props.form, Date.now());

  const share = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await session.consent.grant(grantRequestOf(props.chosen.accountId, props.form));
      forgetShareDraft(session);
      tell({ color: 'green', message: t('care.share.done', { name }) });
      void navigate('/care/sharing');
    } catch (e) {
      if (isHaleError(e, 'KEY_CHANGED')) props.onKeyChanged();
      else setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack>
      <Paper withBorder p="md">
        <Stack gap="sm">
          <Group justify="space-between" wrap="wrap">
            <Text fw={650}>{t('care.share.reviewWith', { name })}</Text>
            <Badge color="green" variant="light">
              {props.chosen.fromInvite ? t('care.share.checkedByInvite') : t('care.share.checkedByYou')}
            </Badge>
          </Group>
          <SharePreview name={name} scope={scope} end={end} />
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('care.share.kind')}</Table.Th>
                <Table.Th>{t('care.share.access')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {scope.map((s) => (
                <Table.Tr key={s.type}>
                  <Table.Td>{streamLabel(t, s.type)}</Table.Td>
                  <Table.Td>{t(`care.access.${s.access}`)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Text size="sm">{t('care.sharing.purposeIs', { purpose: props.form.purpose.trim() })}</Text>
          <Text size="sm" c="dimmed">
            {t('care.share.reviewNote')}
          </Text>
        </Stack>
      </Paper>
      {error !== null && (
        <Alert color="red" role="alert" title={t('care.share.refused')}>
          {error}
        </Alert>
      )}
      <Group>
        <Button loading={busy} onClick={() => void share()}>
          {t('care.share.confirm')}
        </Button>
        <Button variant="default" onClick={props.onEdit}>
          {t('care.share.change')}
        </Button>
      </Group>
    </Stack>
  );
}
