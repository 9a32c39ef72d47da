// Change the account's passphrase: the current one (or the recovery key), a new one strong enough, twice.
import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Paper, PasswordInput, Stack, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { accountErrorText } from '../start/account-errors';
import { passphraseStrength } from '../start/passphrase-strength';
import { NewPassphraseField } from '../start/strength-meter';
import { useHaleSession } from '@hale/react';

export function PassphrasePanel(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [old, setOld] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tried, setTried] = useState(false);
  const strength = useMemo(
    () => (next === '' ? null : passphraseStrength(next, [session.account.loginName ?? '', 'hale'])),
    [next, session],
  );
  const submit = async (): Promise<void> => {
    setTried(true);
    setDone(false);
    setError(null);
    if (strength === null || !strength.accepted || next !== again) return;
    setBusy(true);
    try {
      await session.changePassphrase({ oldPassphrase: old, newPassphrase: next });
      setOld('');
      setNext('');
      setAgain('');
      setTried(false);
      setDone(true);
    } catch (e) {
      setError(accountErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Paper withBorder p="md">
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack>
          <Title order={2} size="h4">
            {t('settings.passphrase')}
          </Title>
          {done && <Alert color="teal">{t('settings.passphraseChanged')}</Alert>}
          {error !== null && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <PasswordInput
            label={t('settings.currentPassphrase')}
            value={old}
            onChange={(e) => setOld(e.currentTarget.value)}
            autoComplete="current-password"
          />
          <NewPassphraseField
            label={t('settings.newPassphrase')}
            value={next}
            onChange={setNext}
            strength={strength}
            tried={tried}
          />
          <PasswordInput
            label={t('create.passphraseAgain')}
            value={again}
            onChange={(e) => setAgain(e.currentTarget.value)}
            autoComplete="new-password"
            error={tried && again !== next ? t('create.mismatch') : undefined}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={busy}>
              {t('settings.changePassphrase')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
