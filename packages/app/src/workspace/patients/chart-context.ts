// What the patient layout hands the screens below it: whose chart, the patient's name, the chart's grant.
import { useOutletContext } from 'react-router';
import type { RecordKind } from '@hale/client';
import type { ChartEntry } from './charts';

export interface PatientChart {
  readonly patientId: string;
  readonly name: string;
  readonly chart: ChartEntry | undefined;
  /** The record kinds the grant lets this account read. */
  readonly kinds: readonly RecordKind[];
}

export const usePatientChart = (): PatientChart => useOutletContext<PatientChart>();
