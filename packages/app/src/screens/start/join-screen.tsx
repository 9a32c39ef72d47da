/**
 * Add this device to an existing account (`/start/join`): with the sign-in name and passphrase, or with the
 * recovery key (then a new passphrase for this device's account), or by pairing with a signed-in device (a
 * QR code and a short code; screens/pairing/pair-new-device.tsx).
 */
import { useMemo, useState, type ReactNode } from 'react';
import {
  Alert,
  Button,
  Group,
  Paper,
  PasswordInput,
  SegmentedControl,
  Stack,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useApp } from '../../boot/app-state';
import { accountErrorText } from './account-errors';
import { guessDeviceName } from './device-name';
import { passphraseStrength } from './passphrase-strength';
import { StartFrame } from './start-frame';
import { StrengthMeter } from './strength-meter';
import { PairNewDevice } from '../pairing/pair-new-device';

type Way = 'passphrase' | 'recovery' | 'pairing';

export function JoinScreen(): ReactNode {
  const { t } = useTranslation();
  const [way, setWay] = useState<Way>('passphrase');
  return (
    <StartFrame>
      <Stack gap="lg" maw={640}>
        <Title order={1}>{t('join.title')}</Title>
        <Text c="dimmed">{t('join.intro')}</Text>
        <SegmentedControl
          fullWidth
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
  const [deviceName, setDeviceName] = useState(() => guessDeviceName(navigator.userAgent));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (): Promise<void> => {
    if (app.hale === null) return;
    setBusy(true);
    setError(null);
    try {
      app.enter(
        await app.hale.join({
          loginName,
          passphrase,
          deviceName: deviceName.trim() || guessDeviceName(navigator.userAgent),
        }),
      );
    } catch (e) {
      setError(accountErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack>
          {error !== null && (
            <Alert color="red" role="alert" title={t('join.failed')}>
              {error}
            </Alert>
          )}
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
          <TextInput
            label={t('create.deviceName')}
            value={deviceName}
            onChange={(e) => setDeviceName(e.currentTarget.value)}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={busy}>
              {t('join.submit')}
            </Button>
          </Group>
          {busy && (
            <Text size="sm" c="dimmed">
              {t('join.working')}
            </Text>
          )}
        </Stack>
      </form>
    </Paper>
  );
}

function ByRecoveryKey(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const [recoveryKey, setRecoveryKey] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [deviceName, setDeviceName] = useState(() => guessDeviceName(navigator.userAgent));
  const [busy, setBusy] = useState(false);
  const [tried, setTried] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const strength = useMemo(
    () => (passphrase === '' ? null : passphraseStrength(passphrase, ['hale'])),
    [passphrase],
  );
  const submit = async (): Promise<void> => {
    setTried(true);
    if (app.hale === null || strength === null || !strength.accepted) return;
    setBusy(true);
    setError(null);
    try {
      app.enter(
        await app.hale.joinWithRecoveryKey({
          recoveryKey,
          newPassphrase: passphrase,
          deviceName: deviceName.trim() || guessDeviceName(navigator.userAgent),
        }),
      );
    } catch (e) {
      setError(accountErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Paper withBorder p={{ base: 'md', sm: 'lg' }}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack>
          {error !== null && (
            <Alert color="red" role="alert" title={t('join.failed')}>
              {error}
            </Alert>
          )}
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
          <PasswordInput
            label={t('join.newPassphrase')}
            description={t('join.newPassphraseHint')}
            withAsterisk
            value={passphrase}
            onChange={(e) => setPassphrase(e.currentTarget.value)}
            autoComplete="new-password"
            error={tried && (strength === null || !strength.accepted) ? t('create.weakRefused') : undefined}
          />
          <StrengthMeter strength={strength} />
          <TextInput
            label={t('create.deviceName')}
            value={deviceName}
            onChange={(e) => setDeviceName(e.currentTarget.value)}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={busy}>
              {t('join.submit')}
            </Button>
          </Group>
          {busy && (
            <Text size="sm" c="dimmed">
              {t('join.working')}
            </Text>
          )}
        </Stack>
      </form>
    </Paper>
  );
}
