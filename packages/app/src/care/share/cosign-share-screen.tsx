/**
 * Let a clinician co-sign (`/care/sharing/cosign/:signerId`): one screen for what a co-signature asked of
 * a clinician needs from the patient — their key compared (as before any first grant; skipped when known),
 * then what they will see and can do (`COSIGN_SCOPE`: the profile and notes to read, signatures to write,
 * for 30 days) and one Share.
 *
 * Invariants: nothing is granted before Share; the grant is the patient's own, signed on this device.
 * Failure modes: nothing waits any more (answered, or already covered): said, with the way back; a refused
 * grant said in words, nothing changed.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, Group, Paper, Stack, Text } from '@mantine/core';
import { tell } from '../../ui/notice';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { isHaleError } from '@hale/client';
import { useGrants, useHaleSession, useRecords } from '@hale/react';
import { PageHeader } from '../../ui/page-header';
import { careErrorText } from '../errors';
import { usePersonName } from '../people';
import { CompareStep } from './compare-step';
import { COSIGN_SCOPE, cosignAsks } from './cosign-asks';
import { SharePreview } from './share-preview';

const COSIGN_DAYS = 30;
const DAY = 24 * 3_600_000;

export function CosignShareScreen(): ReactNode {
  const { t, i18n } = useTranslation();
  const session = useHaleSession();
  const navigate = useNavigate();
  const signerId = useParams().signerId ?? '';
  const me = session.account.accountId;
  const name = usePersonName(signerId);
  const signatures = useRecords('NoteSignature', { patientId: me });
  const grants = useGrants();
  const ask = cosignAsks(signatures.items, grants, me).find((a) => a.signerId === signerId);
  const askedBy = usePersonName(ask?.askedBy[0]);
  const [compared, setCompared] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [end] = useState(() => Date.now() + COSIGN_DAYS * DAY);

  const share = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await session.consent.grant({
        granteeId: signerId,
        scope: COSIGN_SCOPE.map((s) => ({ ...s })),
        durationMs: COSIGN_DAYS * DAY,
        purpose: t('care.cosignShare.purpose', { by: askedBy, lng: i18n.language }),
      });
      tell({ color: 'green', message: t('care.cosignShare.done', { name }) });
      void navigate('/care/sharing');
    } catch (e) {
      if (isHaleError(e, 'KEY_CHANGED')) setCompared(false);
      setError(careErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack maw={880}>
      <PageHeader title={t('care.cosignShare.title', { name })} back="/care/sharing" />
      {ask === undefined && !signatures.loading ? (
        <Paper withBorder p="lg">
          <Stack gap="sm">
            <Text data-testid="cosign-share-none">{t('care.cosignShare.none', { name })}</Text>
            <Button component={Link} to="/care/sharing" variant="default" w="fit-content">
              {t('care.cosignShare.back')}
            </Button>
          </Stack>
        </Paper>
      ) : (
        <>
          <Text data-testid="cosign-share-explain">
            {t('care.cosignShare.explain', { name, by: askedBy, count: ask?.notes ?? 1 })}
          </Text>
          {!compared ? (
            <CompareStep
              accountId={signerId}
              onCompared={() => setCompared(true)}
              onBack={() => void navigate('/care/sharing')}
            />
          ) : (
            <Stack>
              <SharePreview name={name} scope={COSIGN_SCOPE.map((s) => ({ ...s }))} end={end} />
              {error !== null && (
                <Alert color="red" role="alert" title={t('care.share.refused')}>
                  {error}
                </Alert>
              )}
              <Group>
                <Button loading={busy} onClick={() => void share()}>
                  {t('care.share.confirm')}
                </Button>
                <Button component={Link} to="/care/sharing" variant="default">
                  {t('care.cosignShare.notNow')}
                </Button>
              </Group>
            </Stack>
          )}
        </>
      )}
    </Stack>
  );
}

/** On Sharing: each co-signature that waits for the patient's permission, with the way to give it. */
export function CosignAsks(): ReactNode {
  const session = useHaleSession();
  const me = session.account.accountId;
  const signatures = useRecords('NoteSignature', { patientId: me });
  const grants = useGrants();
  const asks = cosignAsks(signatures.items, grants, me);
  if (session.account.role !== 'patient' || asks.length === 0) return null;
  return (
    <Stack gap="xs" data-testid="cosign-asks">
      {asks.map((a) => (
        <CosignAskLine key={a.signerId} signerId={a.signerId} askedBy={a.askedBy[0]} notes={a.notes} />
      ))}
    </Stack>
  );
}

function CosignAskLine(props: {
  readonly signerId: string;
  readonly askedBy: string | undefined;
  readonly notes: number;
}): ReactNode {
  const { t } = useTranslation();
  const name = usePersonName(props.signerId);
  const by = usePersonName(props.askedBy);
  return (
    <Alert color="blue" title={t('care.cosignShare.asksTitle')} data-testid="cosign-ask">
      <Stack gap="xs">
        <Text size="sm">{t('care.cosignShare.ask', { name, by, count: props.notes })}</Text>
        <Button
          component={Link}
          to={`/care/sharing/cosign/${encodeURIComponent(props.signerId)}`}
          size="sm"
          w="fit-content"
        >
          {t('care.cosignShare.review', { name })}
        </Button>
      </Stack>
    </Alert>
  );
}
