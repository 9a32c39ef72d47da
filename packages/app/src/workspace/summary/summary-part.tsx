/** A titled part of a printed summary (visit-summary.css keeps it whole on a page). */
import type { ReactNode } from 'react';
import { Stack, Title } from '@mantine/core';

export function SummaryPart(props: {
  readonly title: string;
  readonly children: ReactNode;
  readonly testId?: string;
}): ReactNode {
  return (
    <Stack gap={4} className="hale-summary-part" data-testid={props.testId}>
      <Title order={2} size="h4">
        {props.title}
      </Title>
      {props.children}
    </Stack>
  );
}
