/**
 * A record edited on two devices at once: both versions side by side, and the person decides (keep this
 * one, or take the other). Nothing is dropped silently; the decision names the version shown (`rv`), so a
 * change arriving meanwhile is not overwritten (RECORD_CHANGED: shown again).
 */
import { useState, type ReactNode } from 'react';
import { Alert, Button, Group, SimpleGrid, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { isHaleError, type StoredRecord } from '@hale/client';
import type { KindSpec } from './kinds';
import { formatField } from './format';
import { valueAt } from './values';
import { fieldsOf } from './write';
import { haleErrorText } from '../i18n/error-words';
import { useHaleSession } from '@hale/react';

export function ConflictPanel(props: { readonly spec: KindSpec; readonly stored: StoredRecord }): ReactNode {
  const { t } = useTranslation();
  const session = useHaleSession();
  const [error, setError] = useState<string | null>(null);
  const { spec, stored } = props;
  if (!stored.conflict || stored.conflictData === null) return null;
  const mine = fieldsOf(stored.record);
  const other = stored.conflictData;
  const differing = spec.fields.filter(
    (f) => JSON.stringify(valueAt(mine, f.name)) !== JSON.stringify(valueAt(other, f.name)),
  );
  const decide = async (choice: 'keep' | 'other'): Promise<void> => {
    setError(null);
    try {
      await session.records.resolveConflict(stored.record.id, choice, { expectedRv: stored.rv });
    } catch (e) {
      setError(
        isHaleError(e, 'RECORD_CHANGED')
          ? t('conflict.changed')
          : isHaleError(e)
            ? haleErrorText(t, e, 'recordError')
            : String(e),
      );
    }
  };
  return (
    <Alert color="orange" title={t('conflict.title')} role="region" aria-label={t('conflict.title')}>
      <Stack gap="sm">
        <Text size="sm">{t('conflict.explain')}</Text>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          {[
            { label: t('conflict.shown'), data: mine },
            { label: t('conflict.other'), data: other },
          ].map((side) => (
            <Stack key={side.label} gap={2}>
              <Text fw={600} size="sm">
                {side.label}
              </Text>
              {differing.map((f) => (
                <Text key={f.name} size="sm">
                  {t(`fields.${f.name}`)}: {formatField(t, f, valueAt(side.data, f.name)) || '—'}
                </Text>
              ))}
            </Stack>
          ))}
        </SimpleGrid>
        {error !== null && (
          <Text c="red" size="sm" role="alert">
            {error}
          </Text>
        )}
        <Group>
          <Button size="sm" onClick={() => void decide('keep')}>
            {t('conflict.keep')}
          </Button>
          <Button size="sm" variant="default" onClick={() => void decide('other')}>
            {t('conflict.takeOther')}
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}
