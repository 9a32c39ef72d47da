/**
 * Reading the log for the views and for `verify` / `acceptLosses`, one at a time (`inViewOrder`), so none
 * keeps a cache another just found stale.
 *
 * | read | reads | the view cache |
 * | ---- | ----- | -------------- |
 * | `read` (views: `whoAccessed`, `disclosures`, `entries`, `recorded`) | the own log, past the cache when it may be used (view-cache.ts) | kept anew after a whole read |
 * | `wholeCheck` (`verify`, `acceptLosses`) | the patient's whole log, always | own log: kept anew, or removed |
 *
 * - Both hold this device's own chain to the position the server acknowledged, read before fetching (so a
 *   cut is told by the views too), and run the own-restore continuation on the log they read.
 * - Views answer what verifies; the problems they meet go to `issues` (AUDIT_LOG_PROBLEMS, once per
 *   distinct summary), never thrown. `verify` lists every problem with its kind.
 */
import type { AuditVerification } from './audit-chain';
import { check } from './check';
import { endingsOf, type AuditCore } from './context';
import { continueOwn } from './continuation';
import { acknowledgedPosition } from './outbox';
import { currentIncarnation, fetchFrom, readDeadline } from './served-log';
import type { Checked } from './types';
import { keepView, readPastView, type ViewCtx } from './view-cache';
import { inViewOrder } from './view-state';

/** What reading for a view needs of the log. */
export interface ViewsCtx extends ViewCtx {
  readonly core: AuditCore;
}

/** Views answer what verifies; the problems met on the way go to `issues` (verify() names them). */
const reportFromView = (s: ViewsCtx, patientId: string, verification: AuditVerification): void => {
  const { reports } = s.view;
  if (verification.ok) {
    reports.delete(patientId);
    return;
  }
  const kinds = new Map<string, number>();
  for (const p of verification.problems) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
  const summary =
    `AUDIT_LOG_PROBLEMS: the audit log of ${patientId} as served has ${verification.problems.length} ` +
    `problem(s) (${[...kinds].map(([kind, n]) => `${kind}: ${n}`).join(', ')}); the views list only the ` +
    `entries that verify, verify() names them all. First: ${verification.problems[0]?.detail ?? ''}`;
  if (reports.get(patientId) === summary) return;
  reports.set(patientId, summary);
  s.core.issue(summary);
};

/**
 * The account's own log, checked and opened, its problems reported as a view's: past the view cache
 * when it may be used (view-cache.ts), else read and verified whole (the cache then kept anew).
 */
export const read = (s: ViewsCtx, deadline = readDeadline(s.core)): Promise<Checked> =>
  inViewOrder(s.view, async () => {
    const { core } = s;
    const { deps } = core;
    deps.assertUnlocked?.();
    // As a whole check (`wholeCheck`): held to the position the server acknowledged of this device's own
    // chain, read before fetching, so a server that cut it is told here too, not only by verify().
    const ended = endingsOf(core, deps.accountId);
    let own = await acknowledgedPosition(core, deps.accountId);
    const quick = await readPastView(s, deadline, own);
    if (quick !== null) {
      reportFromView(s, deps.accountId, quick.verification);
      return quick;
    }
    const incarnation = await currentIncarnation(core);
    const readAt = deps.now();
    const { docs, through } = await fetchFrom(core, deps.accountId, 0, Infinity, deadline);
    if (await continueOwn(core, deps.accountId, docs)) own = await acknowledgedPosition(core, deps.accountId);
    const checked = await check(s, deps.accountId, docs, own, false, ended);
    await keepView(s, docs, through, checked, incarnation, readAt);
    reportFromView(s, deps.accountId, checked.verification);
    return checked;
  });

/**
 * `verify` and `acceptLosses`: the whole log read and verified, always; the own log's check kept as
 * the view cache (or the cache removed, see keepView).
 */
export const wholeCheck = (
  s: ViewsCtx,
  patientId: string,
  accept: boolean,
  deadline = readDeadline(s.core),
): Promise<AuditVerification> =>
  inViewOrder(s.view, async () => {
    const { core } = s;
    const ended = endingsOf(core, patientId);
    // Read before fetching: whatever is acknowledged later is served too.
    let own = await acknowledgedPosition(core, patientId);
    const incarnation = await currentIncarnation(core);
    const readAt = core.deps.now();
    const { docs, through } = await fetchFrom(core, patientId, 0, Infinity, deadline);
    if (await continueOwn(core, patientId, docs)) own = await acknowledgedPosition(core, patientId);
    const checked = await check(s, patientId, docs, own, accept, ended);
    if (patientId === core.deps.accountId)
      await keepView(s, docs, through, checked, incarnation, readAt, accept);
    return checked.verification;
  });
