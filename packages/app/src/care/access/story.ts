/**
 * The access story: the access log told as one line per person per day (this device's days), each with the
 * kinds touched, what was done (looked, added or changed, removed, a shared link opened), the devices it
 * came from (each with the name its owner gave it, when known), and what is unusual. Pure; the lines keep
 * their raw entries, newest first.
 *
 * | hint | when |
 * |---|---|
 * | `night` | an access between 22:00 and 06:00, this device's time |
 * | `new-device` | a device of that person not seen on an earlier day of the log |
 * | `after-end` | the person holds no grant in force now (their access ended, or was never given) |
 * | `refused` | the server refused that person a reach for the records (`denied`: no grant covered it) |
 *
 * Invariants:
 * - Entries of a shared link are one line per day, whoever's device.
 * - A grantee's own claims count as what they did, never as a server-logged access (the raw entries say
 *   which is which).
 * - A refused reach (`denied`) counts as nothing done; its kinds are `tried`, not `kinds`.
 * - A device naming itself (`device-named`) is no access: it makes no line and no device of one, and is
 *   kept among the raw entries of that person's line of that day, if there is one.
 */
import { ACCESS_DENIED, type AccessRecord } from '@hale/client';
import type { StreamType } from '@hale/model';
import { streamTypeOf } from '../streams';

export type Did = 'looked' | 'added' | 'removed' | 'link';
export type Hint = 'night' | 'new-device' | 'after-end' | 'refused';

/** A device a line came from: its id, and the name its owner gave it (absent: none known). */
export interface StoryDevice {
  readonly id: string;
  readonly name?: string;
}

export interface StoryLine {
  readonly key: string;
  /** The person (account); '' for a shared link. */
  readonly actorId: string;
  /** YYYY-MM-DD, this device's day. */
  readonly day: string;
  readonly first: string;
  readonly last: string;
  /** The kinds something was done to. */
  readonly kinds: readonly StreamType[];
  /** The kinds the server refused them (`refused`). */
  readonly tried: readonly StreamType[];
  readonly did: readonly Did[];
  readonly devices: readonly StoryDevice[];
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
/** A grantee's device naming itself (no access). */
const NAMING = 'device-named';

const localDay = (at: string): string => {
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};
const newerFirst = (a: AccessRecord, b: AccessRecord): number => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0);
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
  const keyOf = (r: AccessRecord): string => `${r.action === 'link-open' ? '' : r.actorId}|${localDay(r.at)}`;
  for (const r of records) {
    if (r.action === NAMING) continue;
    const actorId = r.action === 'link-open' ? '' : r.actorId;
    const day = localDay(r.at);
    const key = keyOf(r);
    const group = groups.get(key) ?? { actorId, day, r: [] };
    group.r.push(r);
    groups.set(key, group);
  }
  const namings = records.filter((r) => r.action === NAMING);
  // Devices each person was seen with on earlier days, walking the days oldest first.
  const known = new Map<string, Set<string>>();
  const lines: StoryLine[] = [];
  for (const [key, g] of [...groups].sort((a, b) =>
    a[1].day < b[1].day ? -1 : a[1].day > b[1].day ? 1 : 0,
  )) {
    const newestFirst = [...g.r].sort(newerFirst);
    const ids = [...new Set(newestFirst.map((x) => x.actorDeviceId))];
    const before = known.get(g.actorId);
    const hints: Hint[] = [];
    if (newestFirst.some((x) => atNight(x.at))) hints.push('night');
    if (g.actorId !== '' && before !== undefined && ids.some((d) => !before.has(d))) hints.push('new-device');
    if (g.actorId !== '' && !inForce(g.actorId)) hints.push('after-end');
    const refused = newestFirst.filter((x) => x.action === ACCESS_DENIED);
    if (refused.length > 0) hints.push('refused');
    known.set(g.actorId, new Set([...(before ?? []), ...ids]));
    const done = newestFirst.filter((x) => x.action !== ACCESS_DENIED);
    const did = new Set(done.flatMap((x) => DID[x.action] ?? []));
    const kindsOf = (list: readonly AccessRecord[]): StreamType[] => [
      ...new Set(list.flatMap((x) => streamTypeOf(x.stream) ?? [])),
    ];
    const named = namings.filter((x) => keyOf(x) === key);
    const nameOf = (id: string): string | undefined =>
      [...newestFirst, ...named].find((x) => x.actorDeviceId === id && x.actorDeviceName !== undefined)
        ?.actorDeviceName;
    lines.push({
      key,
      actorId: g.actorId,
      day: g.day,
      first: newestFirst.at(-1)?.at ?? '',
      last: newestFirst[0]?.at ?? '',
      kinds: kindsOf(done),
      tried: kindsOf(refused),
      did: DIDS.filter((d) => did.has(d)),
      devices: ids.map((id) => {
        const name = nameOf(id);
        return name === undefined ? { id } : { id, name };
      }),
      hints,
      records: [...newestFirst, ...named].sort(newerFirst),
    });
  }
  return lines.sort((a, b) => (a.last < b.last ? 1 : a.last > b.last ? -1 : 0));
}

/**
 * The last 7 days of the story: the people (and shared links) who accessed, and how many lines are
 * unusual. A person only refused (`denied`) accessed nothing: not among `people`, their line unusual.
 */
export function weekOf(
  lines: readonly StoryLine[],
  now: number,
): { readonly people: readonly string[]; readonly links: number; readonly unusual: number } {
  const since = new Date(now - 7 * 24 * 3_600_000).toISOString();
  const week = lines.filter((l) => l.last >= since);
  return {
    people: [
      ...new Set(
        week.flatMap((l) =>
          l.actorId === '' || (l.kinds.length === 0 && l.did.length === 0) ? [] : [l.actorId],
        ),
      ),
    ],
    links: week.filter((l) => l.actorId === '').reduce((n, l) => n + l.records.length, 0),
    unusual: week.filter((l) => l.hints.length > 0).length,
  };
}
