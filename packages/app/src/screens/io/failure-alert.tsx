// A failure of records in and out said in words (io-errors.ts), the library's details folded away.
import type { ReactNode } from 'react';
import { Alert, List, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { IoFailure } from './io-errors';

export function FailureAlert(props: {
  readonly failure: IoFailure;
  readonly title: string;
  readonly testId?: string;
}): ReactNode {
  const { t } = useTranslation();
  const { failure } = props;
  return (
    <Alert color="red" title={props.title} role="alert" data-testid={props.testId}>
      <Text size="sm">{failure.text}</Text>
      {failure.details.length > 0 && (
        <details style={{ marginTop: 8 }}>
          <summary style={{ cursor: 'pointer' }}>
            <Text span size="sm" fw={600}>
              {t('io.details')}
            </Text>
          </summary>
          <List size="xs" mt={4} spacing={2} style={{ overflowWrap: 'anywhere' }}>
            {failure.details.slice(0, 20).map((d, i) => (
              <List.Item key={i}>{d}</List.Item>
            ))}
          </List>
        </details>
      )}
    </Alert>
  );
}
