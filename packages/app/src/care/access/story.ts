/**
 * The access story: the access log told as one line per person per day (this device's days), each with the
 * kinds touched, what was done (looked, added or changed, removed, a shared link opened), the devices it
 * came from, and what is unusual. Pure; the lines keep their raw entries, newest first.
 *
 * | hint | when |
 * |---|---|
 * | `night` | an access between 22:00 and 06:00, this device's time |
 * | `new-device` | a device of that person not seen on an earlier day of the log |
 * | `after-end` | the person holds no grant in force now (their access ended, or was never given) |
 *
 * Invariants: entries of a shared link are one line per day, whoever's device; a grantee's own claims
 * count as what they did, never as a server-logged access (the raw entries say which is which).
 */
import type { AccessRecord } from '@hale/client';
import type { StreamType } from '@hale/model';
import { streamTypeOf } from '../streams';

export type Did = 'looked' | 'added' | 'removed' | 'link';
export type Hint = 'night' | 'new-device' | 'after-end';

export interface StoryLine {
  readonly key: string;
  /** The person (account); '' for a shared link. */
  readonly actorId: string;
  /** YYYY-MM-DD, this device's day. */
  readonly day: string;
  readonly first: string;
  readonly last: string;
  readonly kinds: readonly StreamType[];
  readonly did: readonly Did[];
  readonly devices: readonly string[];
  readonly hints: readonly Hint[];
  readonly records: readonly AccessRecord[];
}

const DID: Record<string, Did> = {
  pull: 'looked',
  live: 'looked',
  'key-fetch': 'looked',
  'blob-down': 'looked',
  push: 'added',
  'blob-up': 'added',
  'records-changed': 'added',
  'blob-delete': 'removed',
  purge: 'removed',
  'link-open': 'link',
};
const DIDS: readonly Did[] = ['looked', 'added', 'removed', 'link'];

const localDay = (at: string): string => {
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};
const atNight = (at: string): boolean => {
  const h = new Date(at).getHours();
  return h >= 22 || h < 6;
};

/**
 * The lines of `records`, newest day first; `inForce` says whether a person holds a grant in force now.
 */
export function accessStory(
  records: readonly AccessRecord[],
  inForce: (actorId: string) => boolean,
): StoryLine[] {
  const groups = new Map<string, { actorId: string; day: string; r: AccessRecord[] }>();
  for (const r of records) {
    const actorId = r.action === 'link-open' ? '' : r.actorId;
    const day = localDay(r.at);
    const key = `${actorId}|${day}`;
    const group = groups.get(key) ?? { actorId, day, r: [] };
    group.r.push(r);
    groups.set(key, group);
  }
  // Devices each person was seen with on earlier days, walking the days oldest first.
  const known = new Map<string, Set<string>>();
  const lines: StoryLine[] = [];
  for (const [key, g] of [...groups].sort((a, b) =>
    a[1].day < b[1].day ? -1 : a[1].day > b[1].day ? 1 : 0,
  )) {
    const newestFirst = [...g.r].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    const devices = [...new Set(newestFirst.map((x) => x.actorDeviceId))];
    const before = known.get(g.actorId);
    const hints: Hint[] = [];
    if (newestFirst.some((x) => atNight(x.at))) hints.push('night');
    if (g.actorId !== '' && before !== undefined && devices.some((d) => !before.has(d)))
      hints.push('new-device');
    if (g.actorId !== '' && !inForce(g.actorId)) hints.push('after-end');
    known.set(g.actorId, new Set([...(before ?? []), ...devices]));
    const did = new Set(newestFirst.flatMap((x) => DID[x.action] ?? []));
    lines.push({
      key,
      actorId: g.actorId,
      day: g.day,
      first: newestFirst.at(-1)?.at ?? '',
      last: newestFirst[0]?.at ?? '',
      kinds: [...new Set(newestFirst.flatMap((x) => streamTypeOf(x.stream) ?? []))],
      did: DIDS.filter((d) => did.has(d)),
      devices,
      hints,
      records: newestFirst,
    });
  }
  return lines.sort((a, b) => (a.last < b.last ? 1 : a.last > b.last ? -1 : 0));
}

/** The last 7 days of the story: the people (and shared links) who accessed, and how many lines are unusual. */
export function weekOf(
  lines: readonly StoryLine[],
  now: number,
): { readonly people: readonly string[]; readonly links: number; readonly unusual: number } {
  const since = new Date(now - 7 * 24 * 3_600_000).toISOString();
  const week = lines.filter((l) => l.last >= since);
  return {
    people: [...new Set(week.flatMap((l) => (l.actorId === '' ? [] : [l.actorId])))],
    links: week.filter((l) => l.actorId === '').reduce((n, l) => n + l.records.length, 0),
    unusual: week.filter((l) => l.hints.length > 0).length,
  };
}
