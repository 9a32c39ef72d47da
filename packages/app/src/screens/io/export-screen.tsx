/**
 * Export (`/records/export`): the whole chart in the form the person chooses, saved as a file (the desktop
 * shell's save dialog, else a download).
 *
 * | choice | file |
 * |---|---|
 * | Bundle, files embedded | `hale-chart-DATE.json`: one signed, self-contained file |
 * | Bundle, zip with a files folder | `hale-chart-DATE.zip`: `bundle.json` (signed) and `files/` |
 * | Bundle, files as links | `hale-chart-DATE.json`: signed; files stay links only this account's devices open |
 * | NDJSON | `hale-chart-DATE.ndjson`: one resource a line, for bulk tools; not signed |
 *
 * Failure modes: a file this device cannot fetch (offline, embedded or zip) → said in words; the choice stays.
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, Paper, Radio, Stack, Text, Title } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { ExportResult } from '@hale/client';
import { PageHeader } from '../../ui/page-header';
import { saveBytes } from '../../ui/desktop-bridge';
import { formatBytes } from '../documents/file-ref';
import { FailureAlert } from './failure-alert';
import { ioFailure, type IoFailure } from './io-errors';
import { useHaleSession } from '@hale/react';

type Format = 'bundle' | 'ndjson';
type Attachments = 'embed' | 'zip' | 'link';

const today = (): string => new Date().toISOString().slice(0, 10);

const fileOf = (
  result: ExportResult,
): { name: string; data: Uint8Array; mediaType: string; filter: string; ext: string } => {
  const encode = (text: string) => new TextEncoder().encode(text);
  switch (result.form) {
    case 'zip':
      return {
        name: `hale-chart-${today()}.zip`,
        data: result.zip,
        mediaType: 'application/zip',
        filter: 'Zip',
        ext: 'zip',
      };
    case 'ndjson':
      return {
        name: `hale-chart-${today()}.ndjson`,
        data: encode(result.ndjson),
        mediaType: 'application/fhir+ndjson',
        filter: 'NDJSON',
        ext: 'ndjson',
      };
    case 'bundle':
      return {
        name: `hale-chart-${today()}.json`,
        data: encode(JSON.stringify(result.bundle, null, 2)),
        mediaType: 'application/fhir+json',
        filter: 'FHIR JSON',
        ext: 'json',
      };
  }
};

export function ExportScreen(): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [format, setFormat] = useState<Format>('bundle');
  const [attachments, setAttachments] = useState<Attachments>('embed');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<IoFailure | null>(null);
  const [saved, setSaved] = useState<{ name: string; size: number; outcome: string } | null>(null);

  const run = async (): Promise<void> => {
    setBusy(true);
    setFailure(null);
    setSaved(null);
    try {
      const result = await session.io.exportRecords(
        format === 'ndjson' ? { format: 'ndjson' } : { format: 'bundle', attachments },
      );
      const file = fileOf(result);
      const outcome = await saveBytes(file.name, file.data, file.mediaType, {
        name: file.filter,
        extensions: [file.ext],
      });
      setSaved({ name: file.name, size: file.data.length, outcome });
    } catch (e) {
      setFailure(ioFailure(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack maw={820}>
      <PageHeader title={t('exporter.title')} />
      <Text c="dimmed" size="sm">
        {t('exporter.explain')}
      </Text>
      <Paper withBorder p="md">
        <Stack>
          <Radio.Group
            label={
              <Title order={2} size="h5">
                {t('exporter.format')}
              </Title>
            }
            value={format}
            onChange={(v) => setFormat(v === 'ndjson' ? 'ndjson' : 'bundle')}
          >
            <Stack gap="sm" mt="xs">
              <Radio value="bundle" label={t('exporter.bundle')} description={t('exporter.bundleHint')} />
              <Radio value="ndjson" label={t('exporter.ndjson')} description={t('exporter.ndjsonHint')} />
            </Stack>
          </Radio.Group>
          {format === 'bundle' && (
            <Radio.Group
              label={
                <Title order={2} size="h5">
                  {t('exporter.files')}
                </Title>
              }
              value={attachments}
              onChange={(v) => setAttachments(v === 'zip' ? 'zip' : v === 'link' ? 'link' : 'embed')}
            >
              <Stack gap="sm" mt="xs">
                <Radio value="embed" label={t('exporter.embed')} description={t('exporter.embedHint')} />
                <Radio value="zip" label={t('exporter.zip')} description={t('exporter.zipHint')} />
                <Radio value="link" label={t('exporter.link')} description={t('exporter.linkHint')} />
              </Stack>
            </Radio.Group>
          )}
          {format === 'ndjson' && (
            <Alert color="gray" variant="light">
              {t('exporter.ndjsonFiles')}
            </Alert>
          )}
          {failure !== null && <FailureAlert failure={failure} title={t('exporter.failedTitle')} />}
          {saved !== null && (
            <Alert
              color={saved.outcome === 'cancelled' ? 'gray' : 'teal'}
              data-testid="export-saved"
              data-outcome={saved.outcome}
            >
              {saved.outcome === 'cancelled'
                ? t('exporter.cancelled')
                : t('exporter.saved', { name: saved.name, size: formatBytes(saved.size) })}
            </Alert>
          )}
          <Button
            w="fit-content"
            leftSection={<IconDownload size={18} />}
            loading={busy}
            onClick={() => void run()}
          >
            {t('exporter.download')}
          </Button>
        </Stack>
      </Paper>
      <Text size="sm" c="dimmed">
        {t('exporter.signature')}
      </Text>
    </Stack>
  );
}
