/**
 * Groups of local versions one user action wrote (`records.writeAll`: a note's header and its text), so the
 * push sends them as one group the server stores all or none.
 *
 * Invariants:
 * - A group is known, and kept in device meta (`write-groups`), before its versions are written (`add`,
 *   then the write), so no push handed them can miss it, after a restart too; a write that fails cancels it.
 * - A version is named by record id and revision number (never reused: a failed write cancels its group),
 *   so a later local write of the record is not in the group.
 * - A group leaves the kept list once the server stored every member (`stored`); beyond MAX_GROUPS the
 *   oldest go (their versions, long sent, would travel ungrouped).
 * Failure modes: a crash between the write and a `stored` save leaves a group of versions already stored:
 * harmless (a stored version is not handed to the push again), dropped with the oldest.
 */
import { newId } from '@hale/model';
import type { DeviceMeta } from '../store/device-meta';
import { coalescedSave } from '../core/coalesced-save';
import { SYNC_STATE } from './stored-state';

/** A version of a record this device wrote. */
export interface GroupMember {
  readonly id: string;
  readonly rv: number;
}

/** Groups held at most; beyond, the oldest go. */
const MAX_GROUPS = 10_000;
const KEY = 'write-groups';

const key = (id: string, rv: number): string => `${id}@${rv}`;
const memberOf = (k: string): GroupMember => {
  const at = k.lastIndexOf('@');
  return { id: k.slice(0, at), rv: Number(k.slice(at + 1)) };
};

export const createWriteGroups = (meta: DeviceMeta) => {
  /** Member key → group id. */
  const groupOf = new Map<string, string>();
  /** Group id → its members' keys not stored yet (insertion order: oldest group first). */
  const members = new Map<string, Set<string>>();
  /** Group id → all its members' keys (what is kept). */
  const all = new Map<string, readonly string[]>();
  const drop = (group: string): void => {
    for (const k of all.get(group) ?? []) groupOf.delete(k);
    members.delete(group);
    all.delete(group);
  };
  const put = (group: string, keys: readonly string[]): void => {
    for (const k of keys) {
      const earlier = groupOf.get(k);
      if (earlier !== undefined && earlier !== group) drop(earlier);
      groupOf.set(k, group);
    }
    members.set(group, new Set(keys));
    all.set(group, keys);
    while (members.size > MAX_GROUPS) drop(members.keys().next().value!);
  };
  const kept = () => [...all].map(([group, keys]) => ({ group, members: keys.map(memberOf) }));
  const saver = coalescedSave(() => meta.set(KEY, kept()));
  return {
    /** Reads the kept groups (groups added before it was read are newer). */
    async load(): Promise<void> {
      const stored = (await meta.get(KEY, SYNC_STATE.writeGroups)) ?? [];
      const newer = [...all];
      for (const g of newer) drop(g[0]);
      for (const { group, members: list } of stored)
        put(
          group,
          list.map((m) => key(m.id, m.rv)),
        );
      for (const [group, keys] of newer) put(group, keys);
    },
    /**
     * Registers the versions an action is about to write as one group, kept before it answers; answers
     * its cancel.
     */
    async add(list: readonly GroupMember[]): Promise<() => void> {
      if (list.length < 2) return () => undefined;
      const group = newId();
      put(group, [...new Set(list.map((m) => key(m.id, m.rv)))]);
      await saver.save();
      return () => {
        drop(group);
        saver.soon();
      };
    },
    /** The group of version `rv` of record `id`, if it was written as part of one. */
    of: (id: string, rv: number): string | undefined => groupOf.get(key(id, rv)),
    /** The server stored version `rv` of `id`: its group is forgotten once every member is. */
    stored(id: string, rv: number): void {
      const group = groupOf.get(key(id, rv));
      if (group === undefined) return;
      const left = members.get(group);
      left?.delete(key(id, rv));
      if (left !== undefined && left.size > 0) return;
      drop(group);
      saver.soon();
    },
  };
};
export type WriteGroups = ReturnType<typeof createWriteGroups>;
