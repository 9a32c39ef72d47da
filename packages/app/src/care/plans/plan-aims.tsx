/** A plan's goal and re-check in words (both the patient's and the clinician's plan screens), when it has them. */
import type { ReactNode } from 'react';
import { Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { RecordOf } from '@hale/client';
import { formatDate } from '../../records/format';

export function PlanAims(props: {
  readonly plan: Pick<RecordOf<'TreatmentPlan'>, 'goal' | 'recheck'>;
}): ReactNode {
  const { t } = useTranslation();
  const { goal, recheck } = props.plan;
  return (
    <>
      {goal !== undefined && (
        <Text size="sm" data-testid="plan-goal">
          {t('care.plans.goalLine', { test: goal.testName, target: goal.target })}
        </Text>
      )}
      {recheck !== undefined && (
        <Text size="sm" data-testid="plan-recheck">
          {t('care.plans.recheckLine', { test: recheck.testName, when: formatDate(recheck.due) })}
        </Text>
      )}
    </>
  );
}
