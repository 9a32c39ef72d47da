/**
 * The sync state, always honest: offline (with what waits), connecting, syncing n of m with a bar, up to
 * date (with when), or a problem in words with a way to what to do. It reads the session's SyncState only.
 *
 * | state | says |
 * |---|---|
 * | `offline` / `stopped` | offline; changes waiting on this device, if any |
 * | `connecting` | connecting |
 * | `syncing` | syncing n of m (a first sync), or sending n changes |
 * | `online` | up to date, or n changes still to send |
 * | `fatal`, or issues | the problem, linking to Problems |
 *
 * Information (a patient ended what they shared: `INFO_ISSUES`) is not a problem: not counted here; the
 * Problems screen tells it once per patient.
 */
import type { ReactNode } from 'react';
import { Badge, Group, Progress, Stack, Text, Tooltip, UnstyledButton } from '@mantine/core';
import { IconAlertTriangle, IconCloudCheck, IconCloudOff, IconRefresh } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import type { SyncState } from '@hale/client';
import type { TFunction } from 'i18next';
import { useSyncState } from '@hale/react';
import { formatDate } from '../records/format';
import { problemIssues } from '../screens/problems/describe';

export interface BadgeWords {
  readonly tone: 'gray' | 'blue' | 'teal' | 'orange' | 'red';
  readonly text: string;
  readonly detail: string;
  readonly progress: { done: number; total: number } | null;
}

export const badgeWords = (t: TFunction, s: SyncState): BadgeWords => {
  const waiting = s.pendingWrites + s.pendingUploads;
  const problems = problemIssues(s.errors).length + s.quarantined + s.unsent;
  if (s.status === 'fatal') {
    const code = s.errors[0]?.code;
    return {
      tone: 'red',
      text: t('sync.fatal'),
      detail:
        code === undefined
          ? t('sync.fatalDetail')
          : t(`problem.${code}.title`, { defaultValue: t('sync.fatalDetail') }),
      progress: null,
    };
  }
  if (s.status === 'offline' || s.status === 'stopped') {
    return {
      tone: 'gray',
      text: t('sync.offline'),
      detail: waiting > 0 ? t('sync.waiting', { count: waiting }) : t('sync.offlineDetail'),
      progress: null,
    };
  }
  if (s.status === 'connecting')
    return { tone: 'blue', text: t('sync.connecting'), detail: t('sync.connectingDetail'), progress: null };
  const { done, total } = s.initialSync;
  if (s.status === 'syncing' && total > 0 && done < total) {
    return {
      tone: 'blue',
      text: t('sync.syncingOf', { done, total }),
      detail: t('sync.syncingDetail'),
      progress: { done, total },
    };
  }
  if (problems > 0) {
    return {
      tone: 'orange',
      text: t('sync.problems', { count: problems }),
      detail: t('sync.problemsDetail'),
      progress: null,
    };
  }
  if (s.status === 'syncing' || waiting > 0) {
    return {
      tone: 'blue',
      text: waiting > 0 ? t('sync.sending', { count: waiting }) : t('sync.syncing'),
      detail: t('sync.syncingDetail'),
      progress: null,
    };
  }
  return {
    tone: 'teal',
    text: t('sync.upToDate'),
    detail:
      s.lastSyncedAt === null
        ? t('sync.upToDateDetail')
        : t('sync.lastSynced', { when: formatDate(s.lastSyncedAt) }),
    progress: null,
  };
};

export function SyncBadge(): ReactNode {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const state = useSyncState();
  const words = badgeWords(t, state);
  const icon =
    words.tone === 'teal' ? (
      <IconCloudCheck size={16} />
    ) : words.tone === 'gray' ? (
      <IconCloudOff size={16} />
    ) : words.tone === 'blue' ? (
      <IconRefresh size={16} />
    ) : (
      <IconAlertTriangle size={16} />
    );
  return (
    <Tooltip label={words.detail} multiline w={260}>
      <UnstyledButton
        onClick={() =>
          void navigate(words.tone === 'orange' || words.tone === 'red' ? '/problems' : '/settings')
        }
        aria-label={`${t('sync.label')}: ${words.text}. ${words.detail}`}
        data-testid="sync-badge"
        data-tone={words.tone}
        style={{ minHeight: 44, display: 'flex', alignItems: 'center' }}
      >
        <Stack gap={2}>
          <Badge
            color={words.tone}
            variant="light"
            size="lg"
            leftSection={icon}
            style={{ textTransform: 'none' }}
          >
            <Group gap={4} wrap="nowrap">
              <Text size="sm" fw={600} span>
                {words.text}
              </Text>
            </Group>
          </Badge>
          {words.progress !== null && (
            <Progress
              size="xs"
              value={(100 * words.progress.done) / Math.max(1, words.progress.total)}
              aria-label={words.text}
            />
          )}
        </Stack>
      </UnstyledButton>
    </Tooltip>
  );
}
