/**
 * Audit marks: the grants whose `consent-grant` entry, or whose revocation's `consent-revoke` entry, this
 * device has yet to find in the audit log; kept in device meta under one key per kind.
 *
 * - A mark is looked up once due (`notBefore`) and while its act stands in this device's copy; found, it is
 *   dropped; not found, its entry is appended (`emit`) once per session; one whose act a whole listing after
 *   the grant's expiry does not show is dropped (it never stood). An undecided lookup leaves it marked.
 * - Acts being sent now (`sending`) and acts yet to send (`waiting`) are left as they are: their answer decides.
 * - Disabled (nothing looks entries up): no mark is set.
 */
import type { DeviceMeta } from '../store/device-meta';
import type { TSchema } from '@sinclair/typebox';
import type { AuditMark, StoredGrant } from './consent-types';

/**
 * One kind of audit mark, stored in device meta under `key` (see the header): the grants whose
 * `consent-grant` entry, or whose revocation's `consent-revoke` entry, this device has yet to find. The
 * kinds differ only in a mark's extra fields, in `stands` (whether the copy of the grants shows the act
 * standing) and in `emit` (the entry appended for it).
 */
export const createAuditMarks = <M extends AuditMark>(options: {
  meta: DeviceMeta;
  key: string;
  schema: TSchema & { static: M[] };
  /** False when nothing looks entries up: no mark is set then (its act is recorded at its answer only). */
  enabled: boolean;
  stands: (stored: StoredGrant) => boolean;
  emit: (mark: M, stored: StoredGrant) => void;
}) => {
  /** Acts `grant` / `revoke` is sending now: their answer decides, not a listing that overtakes it. */
  const sending = new Set<string>();
  /** Acts whose entry this session emitted: the append may not have landed at the next lookup. */
  const emitted = new Set<string>();
  /** Changes the marks stored then (null: leave them); through `update`, as the grants are written. */
  const update = async (change: (marks: M[]) => M[] | null): Promise<void> => {
    await options.meta.update(options.key, options.schema, (marks) => change(marks ?? []) ?? marks);
  };
  const emit = (mark: M, stored: StoredGrant): void => {
    emitted.add(mark.grantId);
    options.emit(mark, stored);
  };
  const unmark = (grantIds: ReadonlySet<string>): Promise<void> =>
    grantIds.size === 0
      ? Promise.resolve()
      : update((marks) =>
          marks.some((m) => grantIds.has(m.grantId)) ? marks.filter((m) => !grantIds.has(m.grantId)) : null,
        );
  return {
    sending,
    emit,
    unmark,
    /** Marks those of `marks` whose grant has none yet (a mark held is kept); answers the ids it marked. */
    async mark(marks: readonly M[]): Promise<Set<string>> {
      const added = new Set<string>();
      if (marks.length === 0 || !options.enabled) return added;
      await update((stored) => {
        const held = new Set(stored.map((m) => m.grantId));
        const fresh = marks.filter((m) => !held.has(m.grantId) && !added.has(m.grantId));
        for (const m of fresh) added.add(m.grantId);
        return fresh.length === 0 ? null : [...stored, ...fresh];
      });
      return added;
    },
    stored: async (): Promise<M[]> =>
      options.enabled ? ((await options.meta.get(options.key, options.schema)) ?? []) : [],
    /**
     * Sorts `marks` against the copy of the grants (`held`, by id) after a reading of the server's list
     * (`whole`: every page): `ids` are those to look up (the act stands, the mark is due); `settle`, given
     * which of them the log holds (and which the lookup could not decide: left marked, nothing emitted),
     * emits the entry of each other one once per session and unmarks those found and those whose act a
     * whole listing after the grant's expiry does not show (it never stood).
     * `waiting`: acts this device has yet to send (kept revocations), left as they are.
     */
    check(
      marks: readonly M[],
      held: ReadonlyMap<string, StoredGrant>,
      now: number,
      whole: boolean,
      waiting: { has(grantId: string): boolean } = new Set(),
    ) {
      const dropped = new Set<string>();
      const due: Array<{ mark: M; stored: StoredGrant }> = [];
      for (const mark of marks) {
        if (sending.has(mark.grantId) || waiting.has(mark.grantId)) continue;
        const stored = held.get(mark.grantId);
        if (stored !== undefined && options.stands(stored)) {
          if (mark.notBefore <= now) due.push({ mark, stored });
        } else if (whole && Date.parse(mark.expiresAt) <= now) {
          dropped.add(mark.grantId);
        }
      }
      return {
        ids: due.map((d) => d.mark.grantId),
        settle: (found: ReadonlySet<string>, undecided: ReadonlySet<string> = new Set()): Promise<void> => {
          for (const { mark, stored } of due) {
            if (undecided.has(mark.grantId)) continue;
            if (found.has(mark.grantId)) dropped.add(mark.grantId);
            else if (!emitted.has(mark.grantId)) emit(mark, stored);
          }
          return unmark(dropped);
        },
      };
    },
  };
};
