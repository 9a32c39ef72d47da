/**
 * Add documents (`/documents/upload`): drop files, pick them, or take a photo (the phone's camera through
 * `capture`). Each file is sealed and queued on this device at once (`files.enqueue`: offline too), its
 * record written, and its upload followed in words and a bar: queued, uploading, on the server, or failed
 * with what to do. Files over the library's limit are refused before anything is read.
 */
import { useRef, useState, type DragEvent, type ReactNode } from 'react';
import { Alert, Button, Group, NativeSelect, Paper, Stack, Text } from '@mantine/core';
import { IconCamera, IconFileUpload } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { isHaleError, MAX_FILE_BYTES } from '@hale/client';
import { useUploads, useHaleSession } from '@hale/react';
import { DOCUMENT_TYPES } from '../../records/kinds';
import { addRecord } from '../../records/write';
import { PageHeader } from '../../ui/page-header';
import { formatBytes } from './file-ref';
import { UploadRow, type RowState } from './upload-row';
import { haleErrorText } from '../../i18n/error-words';

interface Picked {
  readonly key: string;
  readonly name: string;
  readonly size: number;
  blobId: string | null;
  recordId: string | null;
  state: RowState;
  error: string | null;
}

const titleOf = (fileName: string): string => fileName.replace(/\.[A-Za-z0-9]{1,5}$/, '') || fileName;

export function UploadScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const queue = useUploads();
  const [documentType, setDocumentType] = useState<string>('other');
  const [picked, setPicked] = useState<readonly Picked[]>([]);
  const [over, setOver] = useState(false);
  const counter = useRef(0);

  const update = (key: string, patch: Partial<Picked>): void =>
    setPicked((all) => all.map((p) => (p.key === key ? { ...p, ...patch } : p)));

  const add = async (files: readonly File[]): Promise<void> => {
    const rows = files.map((f) => ({
      file: f,
      row: {
        key: `f${counter.current++}`,
        name: f.name,
        size: f.size,
        blobId: null,
        recordId: null,
        state: 'reading' as RowState,
        error: null,
      } satisfies Picked,
    }));
    setPicked((all) => [...all, ...rows.map((r) => r.row)]);
    for (const { file, row } of rows) {
      if (file.size > MAX_FILE_BYTES) {
        update(row.key, {
          state: 'refused',
          error: t('uploads.tooLarge', { max: formatBytes(MAX_FILE_BYTES) }),
        });
        continue;
      }
      try {
        const bytes = new Uint8Array(await file.arrayBuffer());
        const ref = await session.files.enqueue({
          type: 'document',
          bytes,
          fileName: file.name,
          mediaType: file.type === '' ? 'application/octet-stream' : file.type,
        });
        const doc = await addRecord(session, 'HealthDocument', {
          file: ref,
          title: titleOf(file.name).slice(0, 200),
          documentType,
        });
        update(row.key, { blobId: ref.blobId, recordId: doc.id, state: 'queued' });
      } catch (e) {
        update(row.key, {
          state: 'refused',
          error: isHaleError(e) ? haleErrorText(t, e, 'fileError') : String(e),
        });
      }
    }
  };

  const stateOf = (p: Picked): RowState => {
    if (p.blobId === null) return p.state;
    const q = queue.find((u) => u.blobId === p.blobId);
    return q === undefined ? 'uploaded' : q.state;
  };

  const onDrop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setOver(false);
    void add([...e.dataTransfer.files]);
  };

  return (
    <Stack maw={820}>
      <PageHeader title={t('documents.uploadTitle')} back="/chart/documents" />
      <NativeSelect
        label={t('fields.documentType')}
        data={DOCUMENT_TYPES.map((v) => ({ value: v, label: t(`enum.documentType.${v}`) }))}
        value={documentType}
        onChange={(e) => setDocumentType(e.currentTarget.value)}
        maw={360}
      />
      <Paper
        className="hale-drop"
        p="xl"
        data-over={over || undefined}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        data-testid="drop-zone"
      >
        <Stack align="center" gap="sm">
          <IconFileUpload size={40} stroke={1.5} aria-hidden />
          <Text fw={600}>{t('documents.dropHere')}</Text>
          <Text size="sm" c="dimmed" ta="center">
            {t('documents.limits', { max: formatBytes(MAX_FILE_BYTES) })}
          </Text>
          <Group>
            <Button component="label" leftSection={<IconFileUpload size={18} />}>
              {t('documents.pick')}
              <input
                type="file"
                multiple
                hidden
                data-testid="file-picker"
                onChange={(e) => {
                  void add([...(e.currentTarget.files ?? [])]);
                  e.currentTarget.value = '';
                }}
              />
            </Button>
            <Button component="label" variant="default" leftSection={<IconCamera size={18} />}>
              {t('documents.camera')}
              <input
                type="file"
                accept="image/*"
                capture="environment"
                hidden
                onChange={(e) => {
                  void add([...(e.currentTarget.files ?? [])]);
                  e.currentTarget.value = '';
                }}
              />
            </Button>
          </Group>
        </Stack>
      </Paper>
      <Alert variant="light" color="gray">
        {t('documents.offlineNote')}
      </Alert>
      <Stack gap="xs" aria-live="polite">
        {picked.map((p) => (
          <Stack key={p.key} gap={4}>
            <UploadRow name={p.name} size={p.size} state={stateOf(p)} error={p.error} />
            {p.recordId !== null && (
              <Button
                component={Link}
                to={`/chart/documents/${p.recordId}`}
                variant="subtle"
                size="xs"
                w="fit-content"
              >
                {t('documents.open')}
              </Button>
            )}
          </Stack>
        ))}
      </Stack>
    </Stack>
  );
}
