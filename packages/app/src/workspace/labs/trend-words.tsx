/**
 * A result's direction from the one before it (lab-trend.ts): an arrow and the earlier value for the eye,
 * words for a screen reader. Used by the lab list, the visit card and the patient's home.
 */
import type { ReactNode } from 'react';
import { VisuallyHidden } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { Trend } from './lab-trend';

/** An earlier value as a person reads it: at most three decimals. */
const number = (n: number): string => String(Math.round(n * 1000) / 1000);

export function TrendWords(props: { readonly trend: Trend }): ReactNode {
  const { t } = useTranslation();
  const { direction } = props.trend;
  const from = number(props.trend.from);
  return (
    <>
      <span aria-hidden data-direction={direction}>
        {t(`workspace.lab.trend.${direction}`, { from })}
      </span>
      <VisuallyHidden>{t(`workspace.lab.trendSaid.${direction}`, { from })}</VisuallyHidden>
    </>
  );
}
