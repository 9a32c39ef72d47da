/**
 * The plain preview of a share: what the clinician will see, what they can do, and until when, in words
 * (scope.ts `preview`). Shown beside the choices as they change, and again at the review.
 */
import type { ReactNode } from 'react';
import { Paper, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { GrantRequest } from '@hale/client';
import type { StreamType } from '@hale/model';
import { formatDate } from '../../records/format';
import { streamLabel } from '../streams';
import { preview } from './scope';

export function SharePreview(props: {
  readonly name: string;
  readonly scope: GrantRequest['scope'];
  /** When access ends (ms), null when not yet known. */
  readonly end: number | null;
}): ReactNode {
  const { t, i18n } = useTranslation();
  const list = new Intl.ListFormat(i18n.language, { type: 'conjunction' });
  const { sees, can, addsTo } = preview(props.scope);
  const kinds = (types: readonly StreamType[]): string =>
    list.format(types.map((type) => streamLabel(t, type)));
  const abilities = [
    ...can.map((a) => t(`care.share.ability.${a}`)),
    ...(addsTo.length > 0 ? [t('care.share.ability.add', { kinds: kinds(addsTo) })] : []),
  ];
  return (
    <Paper withBorder p="md" bg="var(--mantine-color-blue-light)" data-testid="share-preview">
      <Stack gap={4}>
        <Text fw={650} size="sm">
          {t('care.share.previewTitle', { name: props.name })}
        </Text>
        <Text size="sm" data-testid="share-preview-sees">
          {sees.length === 0 ? t('care.share.seesNothing') : t('care.share.sees', { kinds: kinds(sees) })}
        </Text>
        {sees.length > 0 && (
          <Text size="sm" data-testid="share-preview-can">
            {abilities.length === 0
              ? t('care.share.canOnlyRead')
              : t('care.share.can', { what: list.format(abilities) })}
          </Text>
        )}
        {props.end !== null && (
          <Text size="sm" data-testid="share-preview-until">
            {t('care.share.reviewUntil', { when: formatDate(new Date(props.end).toISOString()) })}
          </Text>
        )}
      </Stack>
    </Paper>
  );
}
