import { describe, expect, it } from 'vitest';
import type { AppointmentView } from '@hale/client';
import { MAX_DESKTOP_STARTS, reminderStarts, remindersDue } from './reminders';

const NOW = Date.parse('2026-03-01T09:00:00Z');
const at = (minutes: number, status = 'scheduled', id = `A${minutes}`): AppointmentView =>
  ({
    record: { id, status, startAt: new Date(NOW + minutes * 60_000).toISOString() },
  }) as unknown as AppointmentView;

describe('appointment reminders', () => {
  it('reminds of confirmed appointments within a day, then within the hour, each once', () => {
    const list = [at(30), at(600), at(3000), at(-5), at(20, 'requested')];
    const due = remindersDue(list, NOW, new Set());
    expect(due.map((d) => [d.id, d.kind])).toEqual([
      ['A30', 'hour'],
      ['A600', 'day'],
    ]);
    expect(remindersDue(list, NOW, new Set(due.map((d) => d.key)))).toEqual([]);
    // The same appointment later: its hour reminder is new.
    expect(
      remindersDue([at(600)], NOW + 560 * 60_000, new Set(due.map((d) => d.key))).map((d) => d.kind),
    ).toEqual(['hour']);
  });
});

describe("the desktop shell's reminders", () => {
  it('hands over only the start times of confirmed appointments ahead, nearest first, at most 50', () => {
    const list = [at(3000), at(30), at(-5), at(20, 'requested'), at(30, 'scheduled', 'same-time')];
    expect(reminderStarts(list, NOW)).toEqual([NOW + 30 * 60_000, NOW + 3000 * 60_000]);
    const many = Array.from({ length: 60 }, (_, i) => at(60 + i));
    const starts = reminderStarts(many, NOW);
    expect(starts).toHaveLength(MAX_DESKTOP_STARTS);
    expect(starts[0]).toBe(NOW + 60 * 60_000);
  });
});
