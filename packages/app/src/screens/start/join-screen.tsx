/**
 * Add this device to an existing account (`/start/join`): with the sign-in name and passphrase, or with the
 * recovery key (then a new passphrase for this device's account), or by pairing with a signed-in device (a
 * QR code and a short code; screens/pairing/pair-new-device.tsx).
 */
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import {
  Button,
  PasswordInput,
  SegmentedControl,
  Stack,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useApp } from '../../boot/app-state';
import { accountErrorText } from './account-errors';
import { AccountForm, DeviceNameField, useDeviceName, useFormAction, type FormAction } from './account-form';
import { passphraseStrength } from './passphrase-strength';
import { StartFrame } from './start-frame';
import { NewPassphraseField } from './strength-meter';
import { PairNewDevice } from '../pairing/pair-new-device';

type Way = 'passphrase' | 'recovery' | 'pairing';

export function JoinScreen(): ReactNode {
  const { t } = useTranslation();
  const [way, setWay] = useState<Way>('passphrase');
  // Three ways side by side do not fit a phone's width: one under another there.
  const narrow = useMediaQuery('(max-width: 36em)') === true;
  return (
    <StartFrame>
      <Stack gap="lg" maw={640}>
        <Title order={1}>{t('join.title')}</Title>
        <Text c="dimmed">{t('join.intro')}</Text>
        <SegmentedControl
          fullWidth
          orientation={narrow ? 'vertical' : 'horizontal'}
          value={way}
          onChange={(v) => setWay(v === 'recovery' ? 'recovery' : v === 'pairing' ? 'pairing' : 'passphrase')}
          data={[
            { value: 'passphrase', label: t('join.byPassphrase') },
            { value: 'recovery', label: t('join.byRecovery') },
            { value: 'pairing', label: t('join.byPairing') },
          ]}
          aria-label={t('join.how')}
        />
        {way === 'passphrase' && <ByPassphrase />}
        {way === 'recovery' && <ByRecoveryKey />}
        {way === 'pairing' && <PairNewDevice />}
        <Button variant="subtle" component={Link} to="/start" w="fit-content">
          {t('common.back')}
        </Button>
      </Stack>
    </StartFrame>
  );
}

function ByPassphrase(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const [loginName, setLoginName] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const deviceName = useDeviceName();
  const textOf = useCallback((e: unknown) => accountErrorText(t, e), [t]);
  const action = useFormAction(textOf);
  const submit = (): void => {
    const hale = app.hale;
    if (hale === null) return;
    void action.run(async () => {
      app.enter(await hale.join({ loginName, passphrase, deviceName: deviceName.named() }));
    });
  };
  return (
    <JoinForm action={action} onSubmit={submit}>
      <TextInput
        label={t('create.loginName')}
        withAsterisk
        value={loginName}
        onChange={(e) => setLoginName(e.currentTarget.value)}
        autoComplete="username"
        autoCapitalize="none"
      />
      <PasswordInput
        label={t('join.passphrase')}
        withAsterisk
        value={passphrase}
        onChange={(e) => setPassphrase(e.currentTarget.value)}
        autoComplete="current-password"
      />
      <DeviceNameField name={deviceName} />
    </JoinForm>
  );
}

function ByRecoveryKey(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const [recoveryKey, setRecoveryKey] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const deviceName = useDeviceName();
  const [tried, setTried] = useState(false);
  const textOf = useCallback((e: unknown) => accountErrorText(t, e), [t]);
  const action = useFormAction(textOf);
  const strength = useMemo(
    () => (passphrase === '' ? null : passphraseStrength(passphrase, ['hale'])),
    [passphrase],
  );
  const submit = (): void => {
    setTried(true);
    const hale = app.hale;
    if (hale === null || strength === null || !strength.accepted) return;
    void action.run(async () => {
      app.enter(
        await hale.joinWithRecoveryKey({
          recoveryKey,
          newPassphrase: passphrase,
          deviceName: deviceName.named(),
        }),
      );
    });
  };
  return (
    <JoinForm action={action} onSubmit={submit}>
      <Textarea
        label={t('join.recoveryKey')}
        description={t('join.recoveryKeyHint')}
        withAsterisk
        value={recoveryKey}
        onChange={(e) => setRecoveryKey(e.currentTarget.value)}
        autoComplete="off"
        autoCapitalize="characters"
        spellCheck={false}
      />
      <NewPassphraseField
        label={t('join.newPassphrase')}
        description={t('join.newPassphraseHint')}
        required
        value={passphrase}
        onChange={setPassphrase}
        strength={strength}
        tried={tried}
      />
      <DeviceNameField name={deviceName} />
    </JoinForm>
  );
}

function JoinForm(props: {
  readonly action: FormAction;
  readonly onSubmit: () => void;
  readonly children: ReactNode;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <AccountForm
      onSubmit={props.onSubmit}
      error={props.action.error}
      errorTitle={t('join.failed')}
      working={props.action.busy ? t('join.working') : null}
      actions={
        <Button type="submit" loading={props.action.busy}>
          {t('join.submit')}
        </Button>
      }
    >
      {props.children}
    </AccountForm>
  );
}
