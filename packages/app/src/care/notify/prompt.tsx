/**
 * Asks to turn on system notifications where it makes sense: on the messages and appointments screens,
 * once, with what they will and will not show; never by itself at start-up. The browser asks for the
 * permission only after the person pressed the button. "Not now" is remembered on this device.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, Group, Text } from '@mantine/core';
import { IconBell } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';

const DISMISSED = 'hale.notifications.prompt';

const supported = (): boolean => typeof window !== 'undefined' && 'Notification' in window;

export function NotificationPrompt(): ReactNode {
  const { t } = useTranslation();
  const [state, setState] = useState<NotificationPermission | 'unsupported'>(() =>
    supported() ? Notification.permission : 'unsupported',
  );
  const [dismissed, setDismissed] = useState(() => localStorage.getItem(DISMISSED) === 'yes');
  if (state !== 'default' || dismissed) {
    return state === 'denied' && !dismissed ? (
      <Text size="xs" c="dimmed">
        {t('care.notify.denied')}
      </Text>
    ) : null;
  }
  return (
    <Alert
      color="blue"
      icon={<IconBell size={18} />}
      title={t('care.notify.askTitle')}
      data-testid="notify-prompt"
    >
      <Text size="sm">{t('care.notify.ask')}</Text>
      <Group mt="xs" gap="xs">
        <Button
          size="xs"
          onClick={() => void Notification.requestPermission().then(setState, () => setState('denied'))}
        >
          {t('care.notify.turnOn')}
        </Button>
        <Button
          size="xs"
          variant="default"
          onClick={() => {
            localStorage.setItem(DISMISSED, 'yes');
            setDismissed(true);
          }}
        >
          {t('care.notify.notNow')}
        </Button>
      </Group>
    </Alert>
  );
}
