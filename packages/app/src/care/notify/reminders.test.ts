import { describe, expect, it } from 'vitest';
import type { AppointmentView } from '@hale/client';
import { remindersDue } from './reminders';

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
