// Why a record was not saved, in words, above the form that keeps what was typed (null: nothing shown).
import type { ReactNode } from 'react';
import { Alert, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';

export function NotSaved(props: { readonly failure: string | null }): ReactNode {
  const { t } = useTranslation();
  if (props.failure === null) return null;
  return (
    <Alert color="red" title={t('records.notSaved')} role="alert">
      <Text size="sm" style={{ whiteSpace: 'pre-line' }}>
        {props.failure}
      </Text>
    </Alert>
  );
}
