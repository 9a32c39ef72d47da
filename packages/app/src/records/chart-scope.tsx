/**
 * Whose chart the record screens show, and where their links go. The patient app uses the default (its
 * own chart under `/chart`, every kind writable); the clinician workspace wraps the same screens in a
 * scope naming the patient, the chart's base path and the kinds its grant lets it write.
 *
 * Invariant: a screen under a scope reads and writes only `patientId`'s chart (`records.list(kind,
 * { patientId })`, `records.add(kind, input, { patientId })`); without a scope, the account's own.
 */
import { createContext, useContext } from 'react';
import type { RecordKind } from '@hale/client';

export interface ChartScope {
  /** The chart's base path: `/chart`, or `/workspace/patients/<id>/chart`. */
  readonly base: string;
  /** The patient whose chart it is; undefined: this account's own. */
  readonly patientId?: string;
  /** Whether this account may add and edit records of `kind` in this chart. */
  readonly canWrite: (kind: RecordKind) => boolean;
  /** Whether records may be deleted here (a patient's own chart only). */
  readonly canDelete: boolean;
}

export const OWN_CHART: ChartScope = { base: '/chart', canWrite: () => true, canDelete: true };

export const ChartScopeContext = createContext<ChartScope>(OWN_CHART);

export const useChartScope = (): ChartScope => useContext(ChartScopeContext);

/** The query part naming the scope's patient (nothing for one's own chart). */
export const patientQuery = (scope: ChartScope): { patientId?: string } =>
  scope.patientId === undefined ? {} : { patientId: scope.patientId };
