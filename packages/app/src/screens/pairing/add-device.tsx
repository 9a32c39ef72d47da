/**
 * The signed-in device's side of pairing (Settings → Devices → "Add a device"): scan the new device's QR
 * code with the camera or type its short code, compare the six digits both screens show, approve.
 *
 * | step | shows | next |
 * |---|---|---|
 * | `enter` | the camera (when there is one) and a field for the code | `connecting` when a code is read or typed |
 * | `connecting` | waiting for the new device's answer | `compare` (`approvePairing` resolved), or the refusal in words |
 * | `compare` | the digits and the new device's name | approve → `approving`; "they differ" → refused (mismatch) |
 * | `approving` | waiting for the new device to join | `done` |
 * | `done` | the device was added | closed |
 *
 * Closing the window while a pairing is under way refuses it (the new device is told). A link opened from a
 * QR code (`/#pair=…`, kept as `?pair=` by the app) starts at `connecting` with that code.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Loader, Modal, Stack, Tabs, Text, TextInput } from '@mantine/core';
import { IconCamera, IconKeyboard } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { PairingRequest } from '@hale/client';
import { Digits } from './pair-new-device';
import { pairingErrorText } from './pairing-errors';
import { ScanError, startQrScan } from './qr-scan';
import { useHaleSession } from '@hale/react';

type Step =
  | { readonly step: 'enter' }
  | { readonly step: 'connecting' }
  | { readonly step: 'compare'; readonly request: PairingRequest }
  | { readonly step: 'approving'; readonly request: PairingRequest }
  | { readonly step: 'done'; readonly name: string };

export function AddDeviceModal(props: {
  readonly opened: boolean;
  readonly initialCode?: string | null;
  readonly onClose: () => void;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <Modal
      closeButtonProps={{ 'aria-label': t('common.close') }}
      opened={props.opened}
      onClose={props.onClose}
      title={t('pairing.addTitle')}
      size="lg"
    >
      {props.opened && <AddDevice initialCode={props.initialCode ?? null} onClose={props.onClose} />}
    </Modal>
  );
}

function AddDevice(props: { readonly initialCode: string | null; readonly onClose: () => void }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [step, setStep] = useState<Step>({ step: 'enter' });
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const pending = useRef<PairingRequest | null>(null);
  useEffect(
    () => () => {
      void pending.current?.refuse().catch(() => undefined);
    },
    [],
  );

  const answer = async (typed: string): Promise<void> => {
    setError(null);
    setStep({ step: 'connecting' });
    try {
      const request = await session.devices.approvePairing(typed);
      pending.current = request;
      setStep({ step: 'compare', request });
    } catch (e) {
      setError(pairingErrorText(t, e));
      setStep({ step: 'enter' });
    }
  };
  const started = useRef(false);
  useEffect(() => {
    if (props.initialCode === null || started.current) return;
    started.current = true;
    void answer(props.initialCode);
    // Once, when the window opens with a code from a link.
  }, []);

  const approve = async (request: PairingRequest): Promise<void> => {
    setError(null);
    setStep({ step: 'approving', request });
    try {
      await request.approve();
      pending.current = null;
      setStep({ step: 'done', name: request.newDeviceName });
    } catch (e) {
      pending.current = null;
      setError(pairingErrorText(t, e));
      setStep({ step: 'enter' });
    }
  };
  const refuse = async (request: PairingRequest): Promise<void> => {
    pending.current = null;
    await request.refuse('mismatch').catch(() => undefined);
    setError(t('pairing.refusedHere'));
    setStep({ step: 'enter' });
  };

  return (
    <Stack data-testid="add-device" data-step={step.step}>
      {error !== null && (
        <Alert color="red" role="alert" title={t('pairing.failedTitle')}>
          {error}
        </Alert>
      )}
      {step.step === 'enter' && (
        <>
          <Text size="sm">{t('pairing.addIntro')}</Text>
          <Tabs defaultValue="type" keepMounted={false}>
            <Tabs.List grow>
              <Tabs.Tab value="scan" leftSection={<IconCamera size={18} aria-hidden />}>
                {t('pairing.scanTab')}
              </Tabs.Tab>
              <Tabs.Tab value="type" leftSection={<IconKeyboard size={18} aria-hidden />}>
                {t('pairing.typeTab')}
              </Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="scan" pt="md">
              <Scanner onCode={(text) => void answer(text)} />
            </Tabs.Panel>
            <Tabs.Panel value="type" pt="md">
              <form
                noValidate
                onSubmit={(e) => {
                  e.preventDefault();
                  void answer(code);
                }}
              >
                <Stack>
                  <TextInput
                    label={t('pairing.codeField')}
                    description={t('pairing.codeHint')}
                    placeholder="K7M3Q-9XDPA"
                    value={code}
                    onChange={(e) => setCode(e.currentTarget.value)}
                    autoComplete="off"
                    autoCapitalize="characters"
                    spellCheck={false}
                    data-autofocus
                  />
                  <Group justify="flex-end">
                    <Button type="submit" disabled={code.trim() === ''}>
                      {t('common.continue')}
                    </Button>
                  </Group>
                </Stack>
              </form>
            </Tabs.Panel>
          </Tabs>
        </>
      )}
      {step.step === 'connecting' && (
        <Group gap="xs">
          <Loader size="sm" />
          <Text>{t('pairing.connecting')}</Text>
        </Group>
      )}
      {step.step === 'compare' && (
        <Stack align="center">
          <Text ta="center">{t('pairing.compareApprover', { name: step.request.newDeviceName })}</Text>
          <Digits sas={step.request.sas} />
          <Text size="sm" c="dimmed" ta="center">
            {t('pairing.digitsWhy')}
          </Text>
          <Group justify="center">
            <Button variant="default" onClick={() => void refuse(step.request)}>
              {t('pairing.differ')}
            </Button>
            <Button onClick={() => void approve(step.request)}>
              {t('pairing.approve', { name: step.request.newDeviceName })}
            </Button>
          </Group>
        </Stack>
      )}
      {step.step === 'approving' && (
        <Group gap="xs">
          <Loader size="sm" />
          <Text>{t('pairing.approving', { name: step.request.newDeviceName })}</Text>
        </Group>
      )}
      {step.step === 'done' && (
        <Stack align="flex-start">
          <Alert color="teal" title={t('pairing.doneTitle')} w="100%">
            {t('pairing.done', { name: step.name })}
          </Alert>
          <Button onClick={props.onClose}>{t('common.close')}</Button>
        </Stack>
      )}
    </Stack>
  );
}

function Scanner(props: { readonly onCode: (text: string) => void }): ReactNode {
  const { t } = useTranslation();
  const video = useRef<HTMLVideoElement | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const onCode = useRef(props.onCode);
  onCode.current = props.onCode;
  useEffect(() => {
    const element = video.current;
    if (element === null) return;
    let stop: (() => void) | null = null;
    let live = true;
    startQrScan(element, (text) => onCode.current(text)).then(
      (s) => {
        if (live) stop = s;
        else s();
      },
      (e: unknown) => {
        if (!live) return;
        const code = e instanceof ScanError ? e.code : 'NO_CAMERA';
        setProblem(t(`pairing.camera.${code}`));
      },
    );
    return () => {
      live = false;
      stop?.();
    };
  }, [t]);
  return (
    <Stack>
      {problem !== null ? (
        <Alert color="orange" role="alert">
          {problem}
        </Alert>
      ) : (
        <Text size="sm" c="dimmed">
          {t('pairing.scanAim')}
        </Text>
      )}
      <video
        ref={video}
        aria-label={t('pairing.cameraLabel')}
        style={{
          width: '100%',
          maxHeight: 320,
          background: '#000',
          borderRadius: 8,
          display: problem === null ? 'block' : 'none',
        }}
      />
    </Stack>
  );
}
