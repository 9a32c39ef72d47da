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
  more: Partial<AccessRecord> = {},
): AccessRecord => ({
  at: when,
  source: 'server',
  actorId,
  actorDeviceId: device,
  action,
  ...(type === undefined ? {} : { stream: `patient/${type}` }),
  ...more,
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
    expect(monday.devices).toEqual([{ id: 'd1' }]);
    expect(monday.tried).toEqual([]);
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

  it('names each device as its owner named it, else by id; a device naming itself makes no line', () => {
    const desk = { actorDeviceName: 'Clinic desk' };
    const naming = (device: string, when: string, name: string): AccessRecord =>
      entry('dr', device, when, 'device-named', undefined, {
        source: 'grantee',
        summary: name,
        actorDeviceName: name,
      });
    const story = accessStory(
      [
        naming('d1', at(19, 8), 'Clinic desk'),
        naming('d1', at(20, 8), 'Clinic desk'),
        entry('dr', 'd1', at(20, 9), 'pull', 'lab-result', desk),
        entry('dr', 'd2', at(20, 10), 'pull', 'allergy'),
        // A naming entry on a day of no access: no line, no device.
        naming('d3', at(21, 8), 'Ward phone'),
      ],
      () => true,
    );
    expect(story.map((l) => `${l.actorId}|${l.day}`)).toEqual(['dr|2026-11-20']);
    const line = story[0]!;
    expect(line.devices).toEqual([{ id: 'd2' }, { id: 'd1', name: 'Clinic desk' }]);
    expect(line.did).toEqual(['looked']);
    // Kept among the day's raw entries, newest first.
    expect(line.records.map((r) => r.action)).toEqual(['pull', 'pull', 'device-named']);
    expect(line.first).toBe(at(20, 9));
  });

  it('a refused reach is told (`refused`, its kinds tried), never counted as looked at', () => {
    const story = accessStory(
      [
        entry('gone', 'g1', at(22, 9), 'denied', 'lab-result'),
        entry('gone', 'g1', at(22, 9), 'denied', 'allergy'),
        entry('dr', 'd1', at(22, 10), 'pull', 'allergy'),
        entry('dr', 'd1', at(22, 11), 'denied', 'note'),
      ],
      (actor) => actor !== 'gone',
    );
    const byActor = new Map(story.map((l) => [l.actorId, l]));
    const gone = byActor.get('gone')!;
    expect(gone.hints).toEqual(['after-end', 'refused']);
    expect(gone.did).toEqual([]);
    expect(gone.kinds).toEqual([]);
    expect(gone.tried).toEqual(['lab-result', 'allergy']);
    expect(gone.devices).toEqual([{ id: 'g1' }]);
    // Beside what was done: only the kind read counts as looked at.
    const dr = byActor.get('dr')!;
    expect(dr.hints).toEqual(['refused']);
    expect(dr.did).toEqual(['looked']);
    expect(dr.kinds).toEqual(['allergy']);
    expect(dr.tried).toEqual(['note']);
    // Only refused, `gone` accessed nothing this week: not among the people, their line unusual.
    expect(weekOf(story, Date.parse(at(23, 12)))).toEqual({ people: ['dr'], links: 0, unusual: 2 });
    const onlyRefused = weekOf(
      story.filter((l) => l.actorId === 'gone'),
      Date.parse(at(23, 12)),
    );
    expect(onlyRefused).toEqual({ people: [], links: 0, unusual: 1 });
  });
});
