/**
 * Unlock this device (`/unlock`), offline too: the passphrase, or the recovery key when it is forgotten.
 * Nothing of the chart shows before. Signing this device out forgets the account here (after a warning).
 */
import { useState, type ReactNode } from 'react';
import {
  Alert,
  Anchor,
  Button,
  Group,
  Modal,
  Paper,
  PasswordInput,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { IconLockOpen } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useApp } from '../../boot/app-state';
import { accountErrorText } from './account-errors';
import { StartFrame } from './start-frame';

export function UnlockScreen(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const [withKey, setWithKey] = useState(false);
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirmOut, setConfirmOut] = useState(false);

  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      // The library may still be loading (the screen shows before it): waited for here.
      const hale = app.hale ?? (await app.whenHale());
      const session = withKey
        ? await hale.unlockWithRecoveryKey({ recoveryKey: secret })
        : await hale.unlock({ passphrase: secret });
      setSecret('');
      app.enter(session);
    } catch (e) {
      setError(accountErrorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <StartFrame>
      <Stack maw={480} mx="auto" mt={{ base: 0, sm: 'xl' }}>
        <Paper withBorder p={{ base: 'md', sm: 'xl' }}>
          <form
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              void submit();
            }}
          >
            <Stack>
              <Group gap="xs">
                <IconLockOpen size={28} aria-hidden />
                <Title order={1} size="h2">
                  {t('unlock.title')}
                </Title>
              </Group>
              <Text c="dimmed" size="sm">
                {t('unlock.explain')}
              </Text>
              {error !== null && (
                <Alert color="red" role="alert">
                  {error}
                </Alert>
              )}
              {withKey ? (
                <Textarea
                  label={t('join.recoveryKey')}
                  value={secret}
                  onChange={(e) => setSecret(e.currentTarget.value)}
                  autoComplete="off"
                  spellCheck={false}
                  data-autofocus
                />
              ) : (
                <PasswordInput
                  label={t('join.passphrase')}
                  value={secret}
                  onChange={(e) => setSecret(e.currentTarget.value)}
                  autoComplete="current-password"
                  autoFocus
                />
              )}
              <Button type="submit" loading={busy} fullWidth>
                {t('unlock.submit')}
              </Button>
              <Anchor
                component="button"
                type="button"
                size="sm"
                onClick={() => {
                  setWithKey(!withKey);
                  setSecret('');
                  setError(null);
                }}
              >
                {withKey ? t('unlock.usePassphrase') : t('unlock.useRecoveryKey')}
              </Anchor>
            </Stack>
          </form>
        </Paper>
        <Anchor component="button" type="button" size="sm" c="dimmed" onClick={() => setConfirmOut(true)}>
          {t('unlock.signOut')}
        </Anchor>
      </Stack>
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={confirmOut}
        onClose={() => setConfirmOut(false)}
        title={t('unlock.signOutTitle')}
      >
        <Stack>
          <Text>{t('unlock.signOutExplain')}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirmOut(false)}>
              {t('common.cancel')}
            </Button>
            <Button color="red" onClick={() => void app.signOut()}>
              {t('unlock.signOutConfirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </StartFrame>
  );
}
