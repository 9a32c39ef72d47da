/**
 * The pairwise safety number as both sides show it (the patient's comparison step, the clinician's key
 * check): 60 digits in rows to read aloud, and a QR code of them that names this screen's account, for the
 * other side to scan. A match or a mismatch of the two sides is said here too, in the same words on both.
 */
import type { ReactNode } from 'react';
import { Alert, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { IconAlertTriangle, IconCircleCheck } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { QrImage } from './qr';
import { safetyQrText, safetyRows } from './invite';

export function SafetyPanel(props: {
  readonly safetyNumber: string;
  /** This screen's account: the QR code says whose it is. */
  readonly accountId: string;
  readonly qrLabel: string;
  readonly qrHint: string;
  /** Under the digits (the patient's side: the clinician's key fingerprint). */
  readonly note?: string;
}): ReactNode {
  const { t } = useTranslation();
  const digits = props.safetyNumber.replace(/\s+/g, '');
  return (
    <Paper withBorder p="md">
      <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="lg">
        <Stack gap="xs">
          <Title order={3} size="h5" id="safety-label">
            {t('care.share.safetyNumber')}
          </Title>
          <div role="group" aria-labelledby="safety-label" data-testid="safety-number" data-digits={digits}>
            {safetyRows(props.safetyNumber).map((row, i) => (
              <Text key={i} ff="monospace" size="lg" style={{ letterSpacing: 1 }}>
                {row.join(' ')}
              </Text>
            ))}
          </div>
          {props.note !== undefined && (
            <Text size="xs" c="dimmed">
              {props.note}
            </Text>
          )}
        </Stack>
        <Stack gap="xs" align="flex-start" data-testid="safety-qr">
          <QrImage
            text={safetyQrText(props.safetyNumber, props.accountId)}
            label={props.qrLabel}
            size={180}
          />
          <Text size="xs" c="dimmed">
            {props.qrHint}
          </Text>
        </Stack>
      </SimpleGrid>
    </Paper>
  );
}

/** Both sides see the same number: said in green. */
export function KeysMatch(props: { readonly text: string; readonly testId: string }): ReactNode {
  const { t } = useTranslation();
  return (
    <Alert
      color="green"
      role="status"
      icon={<IconCircleCheck />}
      title={t('care.keyCheck.matchTitle')}
      data-testid={props.testId}
    >
      {props.text}
    </Alert>
  );
}

/** The two numbers differ: what it may mean and what to do, in words. */
export function KeysDiffer(props: {
  readonly testId: string;
  /** The other side, named: "Dr Lin", or "this patient". */
  readonly name: string;
  /** What this person must not do now (share; or write to the chart), and whom to ask. */
  readonly advice: string;
  /** The code scanned was shown by another account than the one being compared. */
  readonly otherAccount?: boolean;
}): ReactNode {
  const { t } = useTranslation();
  return (
    <Alert
      color="red"
      role="alert"
      icon={<IconAlertTriangle />}
      title={t('care.keyCheck.differTitle')}
      data-testid={props.testId}
    >
      <Stack gap="xs">
        {props.otherAccount === true && <Text size="sm">{t('care.keyCheck.otherAccount')}</Text>}
        <Text size="sm">{t('care.keyCheck.differMeans', { name: props.name })}</Text>
        <Text size="sm" fw={650}>
          {props.advice}
        </Text>
      </Stack>
    </Alert>
  );
}
