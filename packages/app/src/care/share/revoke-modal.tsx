/**
 * Revoking a person's access: what revocation can and cannot do, then the grants ended one by one. Shared
 * by a grant's card (Sharing) and a line of the access story. A revocation kept on this device to send
 * when online (`revocationPending`) closes the dialog as done; any other refusal is said in words.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, Group, Modal, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useHaleSession } from '@hale/react';
import { careErrorText } from '../errors';

const isPending = (e: unknown): boolean => typeof e === 'object' && e !== null && 'revocationPending' in e;

export function RevokeModal(props: {
  readonly opened: boolean;
  readonly name: string;
  /** The grants to end. */
  readonly grantIds: readonly string[];
  readonly onClose: () => void;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const revoke = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      for (const id of props.grantIds) await session.consent.revoke(id);
      props.onClose();
    } catch (e) {
      if (isPending(e)) props.onClose();
      else setError(careErrorText(t, e));
    } finally {
      setBusy(false);
      session.consent.refresh();
    }
  };
  return (
    <Modal
      opened={props.opened}
      onClose={props.onClose}
      title={t('care.sharing.revokeTitle', { name: props.name })}
      closeButtonProps={{ 'aria-label': t('common.close') }}
    >
      <Stack>
        <Text data-testid="revocation-notice">{t('care.sharing.revocationNotice')}</Text>
        <Text size="sm">{t('care.sharing.revocationKeepsName')}</Text>
        {error !== null && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            {t('common.cancel')}
          </Button>
          <Button color="red" loading={busy} onClick={() => void revoke()}>
            {t('care.sharing.revokeConfirm')}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
