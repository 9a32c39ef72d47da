/**
 * The new device's side of pairing (`/start/join`, "Pair with a device"): it shows a code and its QR code,
 * waits for a signed-in device of the account to answer, shows the six digits both screens show, and joins
 * once the person says they match and the other device approved.
 *
 * | library step (`pairing.state`) | shows |
 * |---|---|
 * | `waiting` | the QR code, the short code, what to do on the other device, when the code ends |
 * | `compare` | the digits; "they match" (confirm) or "they differ" (cancel: mismatch) |
 * | `approving`, `joining` | waiting for the other device's approval, then adding this device |
 * | `joined` | the chart opens (the session `confirm()` answers) |
 * | `failed` | why, in words, and "start again" |
 *
 * Leaving the screen cancels a pairing under way (the other device is told).
 */
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Loader, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { HaleSession, NewDevicePairing } from '@hale/client';
import { useObserved } from '@hale/react';
import { useApp } from '../../boot/app-state';
import { QrCode } from '../../ui/qr-code';
import { AccountForm, DeviceNameField, useDeviceName, useFormAction } from '../start/account-form';
import { groupDigits, pairingErrorText } from './pairing-errors';
import { formatClock } from '../../boot/dates';

type Pairing = NewDevicePairing<HaleSession>;

export function PairNewDevice(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const deviceName = useDeviceName();
  const [pairing, setPairing] = useState<Pairing | null>(null);
  const textOf = useCallback((e: unknown) => pairingErrorText(t, e), [t]);
  const action = useFormAction(textOf);
  const live = useRef<Pairing | null>(null);
  useEffect(
    () => () => {
      // Leaving the screen: the other device is told, nothing stays half-done.
      void live.current?.cancel().catch(() => undefined);
    },
    [],
  );

  const start = (): void => {
    const hale = app.hale;
    if (hale === null) return;
    void action.run(async () => {
      const started = await hale.startPairing({ deviceName: deviceName.named() });
      live.current = started;
      setPairing(started);
    });
  };
  const again = (): void => {
    void live.current?.cancel().catch(() => undefined);
    live.current = null;
    setPairing(null);
  };

  if (pairing !== null) return <PairingUnderWay pairing={pairing} onAgain={again} />;
  return (
    <AccountForm
      onSubmit={start}
      intro={<Text size="sm">{t('pairing.newIntro')}</Text>}
      error={action.error}
      errorTitle={t('join.failed')}
      actions={
        <Button type="submit" loading={action.busy}>
          {t('pairing.showCode')}
        </Button>
      }
    >
      <DeviceNameField name={deviceName} />
    </AccountForm>
  );
}

function PairingUnderWay(props: { readonly pairing: Pairing; readonly onAgain: () => void }): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const { pairing } = props;
  const state = useObserved(pairing.state);
  const [confirmError, setConfirmError] = useState<string | null>(null);

  const confirm = async (): Promise<void> => {
    setConfirmError(null);
    try {
      const session = await pairing.confirm();
      app.enter(session);
    } catch (e) {
      setConfirmError(pairingErrorText(t, e));
    }
  };

  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }} data-testid="pairing" data-step={state.step}>
      <Stack align="center" gap="md">
        {state.step === 'waiting' && (
          <>
            <Title order={2} size="h3">
              {t('pairing.scanTitle')}
            </Title>
            <Text ta="center" size="sm">
              {t('pairing.scanHow')}
            </Text>
            <QrCode text={pairing.link} label={t('pairing.qrLabel')} />
            <Text size="sm" c="dimmed">
              {t('pairing.orType')}
            </Text>
            <Text
              ff="monospace"
              fz={28}
              fw={700}
              lts={2}
              data-testid="pairing-code"
              aria-label={t('pairing.codeLabel')}
            >
              {pairing.displayCode}
            </Text>
            <Group gap="xs">
              <Loader size="xs" />
              <Text size="sm" c="dimmed">
                {t('pairing.waiting', { when: formatClock(pairing.expiresAt) })}
              </Text>
            </Group>
          </>
        )}
        {state.step === 'compare' && (
          <>
            <Title order={2} size="h3">
              {t('pairing.compareTitle')}
            </Title>
            <Text ta="center">{t('pairing.compareNew')}</Text>
            <Digits sas={state.sas} />
            <Text size="sm" c="dimmed" ta="center">
              {t('pairing.digitsWhy')}
            </Text>
            <Group justify="center">
              <Button variant="default" color="red" onClick={() => void pairing.cancel('mismatch')}>
                {t('pairing.differ')}
              </Button>
              <Button onClick={() => void confirm()}>{t('pairing.match')}</Button>
            </Group>
          </>
        )}
        {(state.step === 'approving' || state.step === 'joining' || state.step === 'joined') && (
          <>
            {state.step === 'approving' && <Digits sas={state.sas} />}
            <Group gap="xs">
              <Loader size="sm" />
              <Text>{state.step === 'approving' ? t('pairing.approveThere') : t('join.working')}</Text>
            </Group>
          </>
        )}
        {(state.step === 'failed' || confirmError !== null) && (
          <>
            <Alert color="red" role="alert" title={t('pairing.failedTitle')} w="100%">
              {state.step === 'failed' ? pairingErrorText(t, state.error) : confirmError}
            </Alert>
            <Button onClick={props.onAgain}>{t('pairing.again')}</Button>
          </>
        )}
        {state.step !== 'failed' && state.step !== 'joined' && (
          <Button variant="subtle" onClick={props.onAgain}>
            {t('common.cancel')}
          </Button>
        )}
      </Stack>
    </Paper>
  );
}

/** The six digits, large, read as one number by a screen reader: a code shown, not a paragraph. */
export function Digits(props: { readonly sas: string }): ReactNode {
  return (
    <Text
      component="div"
      ff="monospace"
      fz={40}
      fw={700}
      lts={4}
      data-testid="pairing-digits"
      data-digits={props.sas}
    >
      {groupDigits(props.sas)}
    </Text>
  );
}
