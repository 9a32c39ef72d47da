/**
 * Groups of local versions one user action wrote (`records.writeAll`: a note's header and its text), so the
 * push sends them as one group the server stores all or none (protocol GROUP_VERSION).
 *
 * Invariants:
 * - A group is known before its versions are written (`add`, then the write), so no push handed them can
 *   miss it; a write that fails cancels it.
 * - A version is named by record id and revision number (never reused: a failed write cancels its group),
 *   so a later local write of the record is not in the group. Beyond MAX_GROUPS the oldest groups are
 *   forgotten: their versions, long sent, would travel ungrouped.
 * - Kept in memory only: after a restart RxDB hands the same versions again, ungrouped (the device's own
 *   checks refused any the server would refuse for authorship; docs/architecture.md lists what is left).
 */
import { newId } from '@hale/model';

/** A version of a record this device wrote. */
export interface GroupMember {
  readonly id: string;
  readonly rv: number;
}

/** Groups held at most; beyond, the oldest go. */
const MAX_GROUPS = 10_000;

const key = (id: string, rv: number): string => `${id}@${rv}`;

export const createWriteGroups = () => {
  /** Member key → group id. */
  const groupOf = new Map<string, string>();
  /** Group id → its members' keys (insertion order: oldest group first). */
  const members = new Map<string, Set<string>>();
  const drop = (group: string): void => {
    for (const k of members.get(group) ?? []) groupOf.delete(k);
    members.delete(group);
  };
  return {
    /** Registers the versions an action is about to write as one group; answers its cancel. */
    add(list: readonly GroupMember[]): () => void {
      if (list.length < 2) return () => undefined;
      const group = newId();
      const keys = new Set(list.map((m) => key(m.id, m.rv)));
      for (const k of keys) {
        const earlier = groupOf.get(k);
        if (earlier !== undefined) drop(earlier);
        groupOf.set(k, group);
      }
      members.set(group, keys);
      while (members.size > MAX_GROUPS) drop(members.keys().next().value!);
      return () => drop(group);
    },
    /** The group of version `rv` of record `id`, if it was written as part of one. */
    of: (id: string, rv: number): string | undefined => groupOf.get(key(id, rv)),
  };
};
export type WriteGroups = ReturnType<typeof createWriteGroups>;
