/**
 * A document's file: fetched and checked (every chunk and the whole file) on demand, previewed in the app
 * when it is an image or a PDF, downloaded under its name. A file still queued on this device says so; one
 * that cannot be fetched says why.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, Button, Group, Image, Paper, Stack, Text } from '@mantine/core';
import { IconDownload, IconEye, IconFileUpload } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { isHaleError, type StoredRecord } from '@hale/client';
import { useUploads, useHaleSession } from '@hale/react';
import { fileRefOf, formatBytes, previewable } from './file-ref';
import { fieldsOf, updateRecord } from '../../records/write';
import { haleErrorText } from '../../i18n/error-words';

export function DocumentView(props: { readonly stored: StoredRecord }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const uploads = useUploads();
  const file = fileRefOf(fieldsOf(props.stored.record)['file']);
  const [url, setUrl] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(
    () => () => {
      if (url !== null) URL.revokeObjectURL(url);
    },
    [url],
  );
  if (file === null) return null;
  const queued = uploads.find((u) => u.blobId === file.blobId);
  const kind = previewable(file.mediaType);

  const fetchFile = async (): Promise<string | null> => {
    if (url !== null) return url;
    setBusy(true);
    setError(null);
    try {
      const bytes = await session.files.get(file, { type: 'document' });
      const next = URL.createObjectURL(
        new Blob([bytes as Uint8Array<ArrayBuffer>], { type: file.mediaType }),
      );
      setUrl(next);
      return next;
    } catch (e) {
      setError(
        isHaleError(e) ? haleErrorText(t, e, 'fileError') : e instanceof Error ? e.message : String(e),
      );
      return null;
    } finally {
      setBusy(false);
    }
  };
  /** A new file for this document: queued like any upload; the record keeps the old one as a version. */
  const replace = async (next: File | undefined): Promise<void> => {
    if (next === undefined) return;
    setError(null);
    try {
      const ref = await session.files.enqueue({
        type: 'document',
        bytes: new Uint8Array(await next.arrayBuffer()),
        fileName: next.name,
        mediaType: next.type === '' ? 'application/octet-stream' : next.type,
      });
      await updateRecord(session, 'HealthDocument', props.stored.record.id, { file: ref });
      if (url !== null) URL.revokeObjectURL(url);
      setUrl(null);
    } catch (e) {
      setError(
        isHaleError(e) ? haleErrorText(t, e, 'fileError') : e instanceof Error ? e.message : String(e),
      );
    }
  };
  const download = async (): Promise<void> => {
    const href = await fetchFile();
    if (href === null) return;
    const a = document.createElement('a');
    a.href = href;
    a.download = file.fileName;
    a.click();
  };

  return (
    <Paper withBorder p="md">
      <Stack>
        <Group justify="space-between">
          <div>
            <Text fw={600}>{file.fileName}</Text>
            <Text size="sm" c="dimmed">
              {file.mediaType} · {formatBytes(file.size)}
            </Text>
          </div>
          <Group gap="xs">
            {kind !== null && url === null && (
              <Button
                variant="default"
                leftSection={<IconEye size={18} />}
                onClick={() => void fetchFile()}
                loading={busy}
              >
                {t('documents.preview')}
              </Button>
            )}
            <Button leftSection={<IconDownload size={18} />} onClick={() => void download()} loading={busy}>
              {t('documents.download')}
            </Button>
            <Button component="label" variant="default" leftSection={<IconFileUpload size={18} />}>
              {t('documents.newVersion')}
              <input
                type="file"
                hidden
                data-testid="new-version"
                onChange={(e) => {
                  void replace(e.currentTarget.files?.[0]);
                  e.currentTarget.value = '';
                }}
              />
            </Button>
          </Group>
        </Group>
        {queued !== undefined && (
          <Alert color={queued.state === 'failed' ? 'red' : 'blue'} variant="light">
            {t(`uploads.state.${queued.state}`)}
          </Alert>
        )}
        {error !== null && (
          <Alert color="red" role="alert" title={t('documents.cannotOpen')}>
            {error}
          </Alert>
        )}
        {url !== null && kind === 'image' && (
          <Image src={url} alt={file.fileName} radius="sm" mah={640} fit="contain" />
        )}
        {url !== null && kind === 'pdf' && (
          <iframe src={url} title={file.fileName} style={{ width: '100%', height: '70vh', border: 0 }} />
        )}
      </Stack>
    </Paper>
  );
}
