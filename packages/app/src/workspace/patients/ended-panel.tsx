/**
 * A chart whose access ended, said plainly: why and when, that the patient's records left this device (how
 * many), that what was seen cannot be recalled, that what this clinician wrote stays in the patient's
 * chart; and the signed export of this clinician's own entries (`care.ownEntries.export`), which this
 * device keeps after the purge (architecture.md, "When a grant ends").
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, List, Stack, Text } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { isHaleError, type EndedStream } from '@hale/client';
import { useHaleSession } from '@hale/react';
import { formatDate, shortId } from '../../records/format';
import { endReasonLabel, streamLabel } from './grant-words';
import { errorText } from '../ui';

export function EndedPanel(props: {
  readonly patientId: string;
  /** Streams that ended in this session; empty for a chart that ended before it. */
  readonly ended: readonly EndedStream[];
  /** Whether every stream ended (the whole chart), or only some of them. */
  readonly whole: boolean;
  readonly purged: number | null;
}): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const download = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const bundle = await session.care.ownEntries.export(props.patientId);
      const blob = new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/fhir+json' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `hale-own-entries-${shortId(props.patientId).replace('…', '-')}-${new Date().toISOString().slice(0, 10)}.json`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setDone(true);
    } catch (e) {
      setError(isHaleError(e, 'NOTHING_KEPT') ? t('workspace.ended.nothingKept') : errorText(t, e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Alert
      color="gray"
      variant="outline"
      title={t(props.whole ? 'workspace.ended.title' : 'workspace.ended.partTitle')}
      data-testid="chart-ended"
    >
      <Stack gap="sm">
        {props.ended.length > 0 && (
          <List size="sm" spacing={2}>
            {props.ended.map((e) => (
              <List.Item key={`${e.type}-${e.at}`}>
                {t('workspace.ended.stream', {
                  kind: streamLabel(t, e.type),
                  reason: endReasonLabel(t, e.reason),
                  when: formatDate(e.at),
                })}
              </List.Item>
            ))}
          </List>
        )}
        <Text size="sm" data-testid="ended-purged">
          {props.purged === null
            ? t('workspace.ended.purgedUnknown')
            : t('workspace.ended.purged', { count: props.purged })}
        </Text>
        <Text size="sm" fw={600}>
          {t('workspace.ended.cannotRecall')}
        </Text>
        <Text size="sm">{t('workspace.ended.ownStays')}</Text>
        <Stack gap={4} align="flex-start">
          <Button
            leftSection={<IconDownload size={18} />}
            onClick={() => void download()}
            loading={busy}
            variant="default"
          >
            {t('workspace.ended.export')}
          </Button>
          <Text size="xs" c="dimmed">
            {t('workspace.ended.exportExplain')}
          </Text>
          {done && (
            <Text size="sm" c="teal" role="status">
              {t('workspace.ended.exported')}
            </Text>
          )}
          {error !== null && (
            <Text size="sm" c="red" role="alert">
              {error}
            </Text>
          )}
        </Stack>
      </Stack>
    </Alert>
  );
}
