// One file of the upload queue: its name, its state in words with a bar, and what can be done.
import type { ReactNode } from 'react';
import { Button, Group, Paper, Progress, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { QueuedUpload } from '@hale/client';
import { formatBytes } from './file-ref';
import { useHaleSession } from '@hale/react';

export type RowState = 'reading' | 'queued' | 'uploading' | 'failed' | 'uploaded' | 'refused';

export const STATE_PERCENT: Record<RowState, number> = {
  reading: 10,
  queued: 30,
  uploading: 65,
  failed: 100,
  refused: 100,
  uploaded: 100,
};

export function UploadRow(props: {
  readonly upload?: QueuedUpload;
  readonly name?: string;
  readonly size?: number;
  readonly state?: RowState;
  readonly error?: string | null;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const state: RowState = props.state ?? props.upload?.state ?? 'queued';
  const name = props.name ?? props.upload?.fileName ?? '';
  const size = props.size ?? props.upload?.size ?? 0;
  const color = state === 'failed' || state === 'refused' ? 'red' : state === 'uploaded' ? 'teal' : 'blue';
  const error = props.error ?? props.upload?.lastError?.message ?? null;
  return (
    <Paper withBorder p="sm" data-testid="upload-row" data-state={state}>
      <Stack gap={6}>
        <Group justify="space-between" wrap="nowrap">
          <Text fw={600} truncate>
            {name}
          </Text>
          <Text size="sm" c="dimmed">
            {formatBytes(size)}
          </Text>
        </Group>
        <Progress
          value={STATE_PERCENT[state]}
          color={color}
          animated={state === 'uploading'}
          aria-label={t(`uploads.state.${state}`)}
        />
        <Text size="sm" {...(color === 'red' ? { c: 'red' } : {})}>
          {t(`uploads.state.${state}`)}
        </Text>
        {error !== null && state !== 'uploaded' && (
          <Text size="xs" c="dimmed">
            {error}
          </Text>
        )}
        {props.upload !== undefined && state === 'failed' && (
          <Group gap="xs">
            <Button size="xs" onClick={() => void session.files.retryUpload(props.upload?.blobId ?? '')}>
              {t('uploads.retry')}
            </Button>
            <Button
              size="xs"
              variant="default"
              onClick={() => void session.files.cancelUpload(props.upload?.blobId ?? '')}
            >
              {t('uploads.cancel')}
            </Button>
          </Group>
        )}
      </Stack>
    </Paper>
  );
}
