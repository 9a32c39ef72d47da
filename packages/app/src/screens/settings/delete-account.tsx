/**
 * Settings → Account → Delete account: explains what goes, asks the person to type their sign-in name
 * (or a word, for an account without one), then `session.deleteAccount()` — the server erases everything
 * of the account, this device's store and vault entry are wiped — and the app returns to its start.
 *
 * Failure modes: offline or refused by the server → said in the dialog, nothing changed, the dialog stays
 * open with what was typed. A care team's account is refused by the server (FORBIDDEN), said the same way.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { tell } from '../../ui/notice';
import { IconTrash } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { isHaleError } from '@hale/client';
import { useApp } from '../../boot/app-state';
import { haleErrorText } from '../../i18n/error-words';
import { useHaleSession } from '@hale/react';

/**
 * The store's IndexedDB databases themselves (the library empties them; their names still hold the
 * account's and device's ids): every database whose name holds both ids is deleted.
 */
const dropDatabases = async (ids: readonly string[]): Promise<void> => {
  if (typeof indexedDB.databases !== 'function') return;
  const lower = ids.map((id) => id.toLowerCase());
  for (const { name } of await indexedDB.databases()) {
    if (name === undefined || !lower.every((id) => name.includes(id))) continue;
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => resolve();
      request.onblocked = () => resolve();
    });
  }
};

export function DeleteAccount(): ReactNode {
  const { t } = useTranslation();
  const app = useApp();
  const session = useHaleSession();
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const expected = session.account.loginName ?? t('deleteAccount.word');
  const matches = typed.trim() === expected;

  const erase = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    const ids = [session.account.accountId, session.account.deviceId];
    try {
      await session.deleteAccount({ erased: () => app.release() });
    } catch (e) {
      setError(t('deleteAccount.failed', { why: isHaleError(e) ? haleErrorText(t, e) : String(e) }));
      setBusy(false);
      return;
    }
    await dropDatabases(ids).catch(() => undefined);
    // Signing out clears the chart's notices; this one is about the account gone, so it comes after.
    await app.signOut();
    tell({
      color: 'teal',
      role: 'status',
      message: t('deleteAccount.done'),
      autoClose: 8000,
      closeButtonProps: { 'aria-label': t('common.close') },
    });
  };

  return (
    <Stack align="flex-start" gap="xs">
      <Text size="sm">{t('deleteAccount.explain')}</Text>
      <Button
        color="red"
        variant="light"
        leftSection={<IconTrash size={18} />}
        onClick={() => {
          setOpen(true);
          setError(null);
        }}
      >
        {t('deleteAccount.button')}
      </Button>
      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={open}
        onClose={() => {
          if (!busy) setOpen(false);
        }}
        title={t('deleteAccount.confirmTitle')}
      >
        <Stack>
          <Text size="sm">{t('deleteAccount.explain')}</Text>
          <TextInput
            label={
              session.account.loginName === undefined
                ? t('deleteAccount.typeWord', { word: expected })
                : t('deleteAccount.typeName', { name: expected })
            }
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            autoComplete="off"
            data-testid="delete-confirm"
          />
          {error !== null && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpen(false)} disabled={busy}>
              {t('common.cancel')}
            </Button>
            <Button color="red" disabled={!matches} loading={busy} onClick={() => void erase()}>
              {t('deleteAccount.confirm')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
