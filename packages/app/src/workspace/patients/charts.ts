/**
 * The charts this clinician has: those shared with it now or ended in this session
 * (`consent.grantsReceived`), and those it keeps its own entries of from a grant that ended before
 * (`care.ownEntries.patients()`, kept on this device beside the purged store). Active charts first.
 */
import { useEffect, useMemo, useState } from 'react';
import type { ReceivedGrant } from '@hale/client';
import { useGrantsReceived, useHaleSession } from '@hale/react';

export interface ChartEntry {
  readonly patientId: string;
  /** The grant as consent reports it; undefined for a chart ended before this session. */
  readonly grant: ReceivedGrant | undefined;
  readonly state: ReceivedGrant['state'];
}

const ORDER: Record<ReceivedGrant['state'], number> = { expiring: 0, active: 1, ended: 2 };

/** Patients this device keeps own entries of, read again whenever the grants change. */
export function useKeptPatients(): readonly string[] {
  const session = useHaleSession();
  const grants = useGrantsReceived();
  const [kept, setKept] = useState<readonly string[]>([]);
  useEffect(() => {
    let live = true;
    session.care.ownEntries.patients().then(
      (ids) => live && setKept(ids),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [session, grants]);
  return kept;
}

export function useCharts(): readonly ChartEntry[] {
  const grants = useGrantsReceived();
  const kept = useKeptPatients();
  return useMemo(() => {
    const shared = new Set(grants.map((g) => g.patientId));
    const entries: ChartEntry[] = [
      ...grants.map((g) => ({ patientId: g.patientId, grant: g, state: g.state })),
      ...kept
        .filter((id) => !shared.has(id))
        .map((id) => ({ patientId: id, grant: undefined, state: 'ended' as const })),
    ];
    return entries.sort((a, b) => ORDER[a.state] - ORDER[b.state] || (a.patientId < b.patientId ? -1 : 1));
  }, [grants, kept]);
}

export function useChart(patientId: string): ChartEntry | undefined {
  const charts = useCharts();
  return charts.find((c) => c.patientId === patientId);
}
