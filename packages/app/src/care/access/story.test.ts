import { describe, expect, it } from 'vitest';
import type { AccessRecord } from '@hale/client';
import { accessStory, weekOf } from './story';

/** An instant at `hour`:00 of day `day` of November 2026, this device's time. */
const at = (day: number, hour: number): string => new Date(2026, 10, day, hour, 0, 0).toISOString();
const entry = (
  actorId: string,
  device: string,
  when: string,
  action: string,
  type?: string,
): AccessRecord => ({
  at: when,
  source: 'server',
  actorId,
  actorDeviceId: device,
  action,
  ...(type === undefined ? {} : { stream: `patient/${type}` }),
});

describe('the access story', () => {
  it('one line per person per day: kinds, what was done, devices; newest first with raw entries', () => {
    const story = accessStory(
      [
        entry('dr', 'd1', at(20, 9), 'pull', 'lab-result'),
        entry('dr', 'd1', at(20, 10), 'push', 'message'),
        entry('dr', 'd1', at(20, 11), 'pull', 'lab-result'),
        entry('dr', 'd1', at(21, 9), 'pull', 'allergy'),
        entry('nurse', 'n1', at(21, 8), 'blob-down', 'document'),
        entry('anyone', 'x', at(21, 12), 'link-open'),
      ],
      () => true,
    );
    expect(story.map((l) => `${l.actorId}|${l.day}`)).toEqual([
      '|2026-11-21',
      'dr|2026-11-21',
      'nurse|2026-11-21',
      'dr|2026-11-20',
    ]);
    const monday = story[3]!;
    expect(monday.kinds).toEqual(['lab-result', 'message']);
    expect(monday.did).toEqual(['looked', 'added']);
    expect(monday.devices).toEqual(['d1']);
    expect(monday.records.map((r) => r.at)).toEqual([at(20, 11), at(20, 10), at(20, 9)]);
    expect(story[0]!.did).toEqual(['link']);
    expect(story.every((l) => l.hints.length === 0)).toBe(true);
  });

  it('says what is unusual: at night, a device not seen before, a person whose access ended', () => {
    const story = accessStory(
      [
        entry('dr', 'd1', at(20, 9), 'pull', 'lab-result'),
        entry('dr', 'd2', at(21, 23), 'pull', 'lab-result'),
        entry('gone', 'g1', at(21, 10), 'pull', 'note'),
      ],
      (actor) => actor !== 'gone',
    );
    const byKey = new Map(story.map((l) => [`${l.actorId}|${l.day}`, l.hints]));
    expect(byKey.get('dr|2026-11-21')).toEqual(['night', 'new-device']);
    expect(byKey.get('dr|2026-11-20')).toEqual([]);
    expect(byKey.get('gone|2026-11-21')).toEqual(['after-end']);
  });

  it('sums up the week: who, how many link openings, how many lines unusual', () => {
    const lines = accessStory(
      [
        entry('dr', 'd1', at(10, 9), 'pull', 'lab-result'),
        entry('dr', 'd1', at(25, 23), 'pull', 'lab-result'),
        entry('nurse', 'n1', at(26, 9), 'pull', 'allergy'),
        entry('x', 'x', at(26, 10), 'link-open'),
      ],
      () => true,
    );
    expect(weekOf(lines, Date.parse(at(27, 12)))).toEqual({ people: ['nurse', 'dr'], links: 1, unusual: 1 });
  });
});
