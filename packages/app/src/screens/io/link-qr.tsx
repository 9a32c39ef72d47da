/**
 * A link just made: its QR (what a phone's camera opens: the server's viewer page with the link after `#`,
 * the SMART Health Links form for a viewer URL) and the address to copy or save. Hale does not keep a
 * link's text (its key opens the content), so this is shown once, when the link is made.
 */
import { useState, type ReactNode } from 'react';
import { Button, CopyButton, Group, Stack, Text, TextInput } from '@mantine/core';
import { IconCheck, IconCopy, IconDownload } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { QrCode, qrPngBytes } from '../../ui/qr-code';
import { saveBytes } from '../../ui/desktop-bridge';

export function LinkQr(props: {
  readonly url: string;
  readonly qrLabel: string;
  readonly fileName: string;
  readonly size?: number;
  readonly testId?: string;
}): ReactNode {
  const { t } = useTranslation();
  const [saveFailed, setSaveFailed] = useState(false);
  const savePng = async (): Promise<void> => {
    setSaveFailed(false);
    try {
      await saveBytes(props.fileName, await qrPngBytes(props.url), 'image/png', {
        name: 'PNG',
        extensions: ['png'],
      });
    } catch {
      setSaveFailed(true);
    }
  };
  return (
    <Stack gap="sm" align="flex-start">
      <QrCode text={props.url} label={props.qrLabel} size={props.size ?? 220} testId={props.testId} />
      <Group gap="xs" align="flex-end" className="hale-no-print" w="100%" wrap="nowrap">
        <TextInput
          label={t('share.address')}
          value={props.url}
          readOnly
          onFocus={(e) => e.currentTarget.select()}
          style={{ flex: 1, minWidth: 0 }}
          data-testid="link-url"
        />
        <CopyButton value={props.url}>
          {({ copied, copy }) => (
            <Button
              variant="default"
              onClick={copy}
              leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
            >
              {copied ? t('share.copied') : t('share.copy')}
            </Button>
          )}
        </CopyButton>
      </Group>
      <Button
        variant="subtle"
        className="hale-no-print"
        leftSection={<IconDownload size={16} />}
        onClick={() => void savePng()}
      >
        {t('share.saveQr')}
      </Button>
      {saveFailed && (
        <Text c="red" size="sm" role="alert">
          {t('share.saveQrFailed')}
        </Text>
      )}
    </Stack>
  );
}
