/**
 * Sharing, step 2: compare the clinician's key before the first grant. Both accounts compute the same
 * safety number from their two keys: read it aloud, or scan each other's QR code (the clinician's is on
 * their "Check a patient's key" screen, which scans this one). A key compared before and unchanged needs nothing more; a key that changed since is a warning in red
 * (it may be a new device of theirs, or someone placed in between), and must be compared again.
 *
 * Failure modes: the server presents a key that is not the account's (KEY_CHANGED, refused before any
 * comparison: the changed-key warning, with no way on to sharing but comparing again once the account's
 * own key is back), offline (NETWORK): said in words, nothing pinned.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { isHaleError } from '@hale/client';
import { careErrorText } from '../errors';
import { usePersonName, useProviderProfile } from '../people';
import { QrReader } from './qr';
import { safetyCodeIn, safetyMatches, type SafetyCode } from './invite';
import { KeysDiffer, KeysMatch, SafetyPanel } from './safety-panel';
import { useHaleSession } from '@hale/react';

export interface Described {
  readonly accountId: string;
  readonly fingerprint: string;
  readonly safetyNumber: string;
  readonly verified: 'yes' | 'changed' | 'no';
}

export function CompareStep(props: {
  readonly accountId: string;
  readonly onCompared: () => void;
  readonly onBack: () => void;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const name = usePersonName(props.accountId);
  const profile = useProviderProfile(props.accountId);
  const [described, setDescribed] = useState<Described | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [presentedWrong, setPresentedWrong] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const [scan, setScan] = useState<SafetyCode | 'none' | null>(null);
  const [mismatch, setMismatch] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    setDescribed(null);
    setError(null);
    setPresentedWrong(false);
    session.consent.describeProvider(props.accountId).then(
      (d) => live && setDescribed(d),
      (e: unknown) => {
        if (!live) return;
        setPresentedWrong(isHaleError(e, 'KEY_CHANGED'));
        setError(careErrorText(t, e));
      },
    );
    return () => {
      live = false;
    };
  }, [session, props.accountId, t, attempt]);

  const confirm = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await session.consent.verifyProvider(props.accountId);
      props.onCompared();
    } catch (e) {
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  const header = (
    <div>
      <Title order={2} size="h4">
        {name}
      </Title>
      {profile !== null && (
        <Text size="sm" c="dimmed">
          {[profile.specialty, profile.clinic].filter(Boolean).join(' · ')}
        </Text>
      )}
    </div>
  );

  if (presentedWrong && described === null) {
    // Another key than the account's own: no safety number to compare, nothing to share to.
    return (
      <Stack>
        {header}
        <Alert
          color="red"
          role="alert"
          title={t('care.share.keyChangedTitle', { name })}
          data-testid="key-changed"
        >
          <Stack gap="xs">
            <Text size="sm">{t('care.share.keyPresentedWrong', { name })}</Text>
            <Text size="sm" fw={650}>
              {t('care.share.nothingShared')}
            </Text>
          </Stack>
        </Alert>
        <Group>
          <Button variant="default" onClick={() => setAttempt((n) => n + 1)}>
            {t('care.share.checkKeyAgain')}
          </Button>
          <Button variant="subtle" onClick={props.onBack}>
            {t('care.share.chooseAnother')}
          </Button>
        </Group>
      </Stack>
    );
  }
  if (error !== null && described === null) {
    return (
      <Stack>
        {header}
        <Alert color="red" role="alert" title={t('care.share.compareFailed')}>
          {error}
        </Alert>
        <Button variant="default" w="fit-content" onClick={props.onBack}>
          {t('care.share.chooseAnother')}
        </Button>
      </Stack>
    );
  }
  if (described === null) return <Loader aria-label={t('common.loading')} />;

  if (described.verified === 'yes') {
    return (
      <Stack>
        {header}
        <Alert color="green" title={t('care.share.keyKnownTitle')} data-testid="key-known">
          {t('care.share.keyKnown')}
        </Alert>
        <Group>
          <Button onClick={props.onCompared}>{t('common.continue')}</Button>
        </Group>
      </Stack>
    );
  }

  const digits = described.safetyNumber.replace(/\s+/g, '');
  const scanned =
    scan === null
      ? null
      : scan !== 'none' && safetyMatches(scan, digits, props.accountId)
        ? 'match'
        : 'mismatch';
  return (
    <Stack>
      {header}
      {described.verified === 'changed' && (
        <Alert
          color="red"
          role="alert"
          title={t('care.share.keyChangedTitle', { name })}
          data-testid="key-changed"
        >
          {t('care.share.keyChanged')}
        </Alert>
      )}
      <Text>{t('care.share.compareExplain', { name })}</Text>
      <SafetyPanel
        safetyNumber={described.safetyNumber}
        accountId={session.account.accountId}
        qrLabel={t('care.share.safetyQr')}
        qrHint={t('care.share.safetyQrHint', { name })}
        note={t('care.share.fingerprint', { fingerprint: described.fingerprint })}
      />
      <Stack gap="xs">
        <Title order={3} size="h5">
          {t('care.share.scanTheirs')}
        </Title>
        <QrReader testId="safety-reader" onText={(text) => setScan(safetyCodeIn(text) ?? 'none')} />
        {scanned === 'match' && <KeysMatch testId="scan-match" text={t('care.share.scanMatch', { name })} />}
        {scanned === 'mismatch' && (
          <KeysDiffer
            testId="scan-mismatch"
            name={name}
            advice={t('care.share.differAdvice', { name })}
            otherAccount={scan !== 'none' && scan?.accountId !== null && scan?.accountId !== props.accountId}
          />
        )}
      </Stack>
      {mismatch && (
        <KeysDiffer testId="said-mismatch" name={name} advice={t('care.share.differAdvice', { name })} />
      )}
      {error !== null && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Group>
        <Button loading={busy} disabled={scanned === 'mismatch'} onClick={() => void confirm()}>
          {t('care.share.theyMatch')}
        </Button>
        <Button variant="default" color="red" onClick={() => setMismatch(true)}>
          {t('care.share.theyDiffer')}
        </Button>
        <Button variant="subtle" onClick={props.onBack}>
          {t('care.share.chooseAnother')}
        </Button>
      </Group>
    </Stack>
  );
}
