/**
 * Check a patient's key (`/workspace/check`; `?patient=<account>` from a chart): the pairwise safety number
 * this clinician and the patient both see — digits to read aloud and a QR code for the patient to scan —
 * and a reader for the patient's code (camera or photo). The patient's code names their account, so a
 * patient not yet in the list (still at their "Compare keys" step) is checked by scanning it.
 *
 * Invariants: green only when the digits match and the code was shown by the patient's account (or the
 * clinician says the numbers read aloud match); a match pins the patient's key (`verifyProvider`, the same
 * pin either side keeps), so the check says "compared before" next time and a key changed since in red.
 * Failure modes, said in words: a mismatch (someone may be between you), a code that is no safety number
 * or names no account, the server presenting a key that is not the patient's (KEY_CHANGED), offline.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { isHaleError } from '@hale/client';
import { useHaleSession } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { QrReader } from '../../care/share/qr';
import { safetyCodeIn, safetyMatches, type SafetyCode } from '../../care/share/invite';
import { KeysDiffer, KeysMatch, SafetyPanel } from '../../care/share/safety-panel';
import { usePatientName } from '../patients/patient-name';
import { errorText } from '../ui';

type Described = Awaited<ReturnType<ReturnType<typeof useHaleSession>['consent']['describeProvider']>>;

export function KeyCheckScreen(): ReactNode {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const patientId = params.get('patient');
  const [unnamed, setUnnamed] = useState(false);
  // The code that named the patient: compared as soon as their key is read.
  const [first, setFirst] = useState<string | null>(null);

  const read = (text: string): void => {
    const code = safetyCodeIn(text);
    setUnnamed(code !== null && code.accountId === null);
    if (code?.accountId == null) return;
    setFirst(text);
    setParams({ patient: code.accountId }, { replace: true });
  };

  return (
    <Stack maw={880}>
      <PageHeader title={t('workspace.keys.checkTitle')} back="/workspace/patients" />
      {patientId === null ? (
        <Stack gap="xs">
          <Text mb="xs">{t('workspace.keys.checkExplain')}</Text>
          <Title order={2} size="h4">
            {t('workspace.keys.scanPatient')}
          </Title>
          <QrReader testId="patient-code-reader" onText={read} />
          {unnamed && (
            <Alert color="orange" role="alert">
              {t('workspace.keys.unnamedCode')}
            </Alert>
          )}
        </Stack>
      ) : (
        <Check key={patientId} patientId={patientId} scanned={first} />
      )}
    </Stack>
  );
}

function Check(props: { readonly patientId: string; readonly scanned: string | null }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const name = usePatientName(props.patientId);
  const [described, setDescribed] = useState<Described | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [code, setCode] = useState<SafetyCode | 'none' | null>(() =>
    props.scanned === null ? null : (safetyCodeIn(props.scanned) ?? 'none'),
  );
  const [said, setSaid] = useState<'match' | 'mismatch' | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    setDescribed(null);
    setError(null);
    session.consent.describeProvider(props.patientId).then(
      (d) => live && setDescribed(d),
      (e: unknown) =>
        live &&
        setError(isHaleError(e, 'KEY_CHANGED') ? t('workspace.keys.presentedWrong') : errorText(t, e)),
    );
    return () => {
      live = false;
    };
  }, [session, props.patientId, t, attempt]);

  const digits = described?.safetyNumber.replace(/\s+/g, '') ?? null;
  const scanned =
    code === null || digits === null
      ? null
      : code !== 'none' && safetyMatches(code, digits, props.patientId)
        ? 'match'
        : 'mismatch';
  const verdict = scanned ?? said;

  // A match pins the patient's key: the next check (and a key changed since) is told apart.
  useEffect(() => {
    if (verdict !== 'match' || described === null || described.verified === 'yes') return;
    session.consent.verifyProvider(props.patientId).catch((e: unknown) => setError(errorText(t, e)));
  }, [verdict, described, session, props.patientId, t]);

  if (error !== null && described === null) {
    return (
      <Stack>
        <Alert color="red" role="alert" title={t('workspace.keys.cannotCheck')}>
          {error}
        </Alert>
        <Button variant="default" w="fit-content" onClick={() => setAttempt((n) => n + 1)}>
          {t('workspace.keys.tryAgain')}
        </Button>
      </Stack>
    );
  }
  if (described === null) return <Loader aria-label={t('common.loading')} />;

  return (
    <Stack data-testid="key-check" data-verdict={verdict ?? 'none'}>
      <Group justify="space-between" wrap="wrap" gap="xs">
        <Title order={2} size="h4" data-testid="key-check-patient">
          {name}
        </Title>
        {described.verified === 'yes' && verdict === null && (
          <Badge color="green" variant="light">
            {t('workspace.keys.comparedBefore')}
          </Badge>
        )}
      </Group>
      {described.verified === 'changed' && verdict === null && (
        <Alert color="red" role="alert" title={t('workspace.keys.changedTitle')} data-testid="key-changed">
          {t('workspace.keys.changed', { name })}
        </Alert>
      )}
      {verdict === 'match' && (
        <KeysMatch testId="key-check-match" text={t('workspace.keys.match', { name })} />
      )}
      {verdict === 'mismatch' && (
        <KeysDiffer
          testId="key-check-mismatch"
          name={name}
          advice={t('workspace.keys.differAdvice')}
          otherAccount={
            code !== null && code !== 'none' && code.accountId !== null && code.accountId !== props.patientId
          }
        />
      )}
      <Text>
        {t(verdict === 'match' ? 'workspace.keys.nowTheirTurn' : 'workspace.keys.compareExplain', { name })}
      </Text>
      <SafetyPanel
        safetyNumber={described.safetyNumber}
        accountId={session.account.accountId}
        qrLabel={t('workspace.keys.qrLabel')}
        qrHint={t('workspace.keys.qrHint')}
      />
      <Stack gap="xs">
        <Title order={3} size="h5">
          {t('workspace.keys.scanPatient')}
        </Title>
        <QrReader testId="patient-code-reader" onText={(text) => setCode(safetyCodeIn(text) ?? 'none')} />
      </Stack>
      {scanned === null && (
        <Group>
          <Button onClick={() => setSaid('match')}>{t('care.share.theyMatch')}</Button>
          <Button variant="default" color="red" onClick={() => setSaid('mismatch')}>
            {t('care.share.theyDiffer')}
          </Button>
        </Group>
      )}
    </Stack>
  );
}
