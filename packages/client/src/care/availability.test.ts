import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '@hale/crypto/node';
import { base64urlEncode, deriveAccountKeys, generateRootSecret } from '@hale/crypto';
import type { Availability } from '@hale/protocol';
import {
  availabilityOf,
  isOfferedSlot,
  signAvailability,
  slotsOf,
  verifyAvailability,
  withinHours,
} from './availability';
import { inZone, wallToInstant } from './time-zones';

const ed = createNodeEd25519();
const provider = deriveAccountKeys(generateRootSecret());

/** Mondays 09:00–10:00 in Berlin, 30-minute slots, through the change to summer time (29 March 2026). */
const berlin = (extra: Partial<Availability> = {}): Availability => ({
  ...availabilityOf(
    provider.accountId,
    {
      timeZone: 'Europe/Berlin',
      slotMinutes: 30,
      weekly: [{ day: 1, from: '09:00', to: '10:00' }],
      from: '2026-03-16',
      until: '2026-04-05',
    },
    1,
    '2026-03-01T00:00:00.000Z',
    [],
  ),
  ...extra,
});

describe('free slots from a published availability', () => {
  it('keep the wall time across a daylight-saving change: 09:00 in Berlin is 08:00Z, then 07:00Z', () => {
    expect(slotsOf(berlin()).map((s) => s.startAt)).toEqual([
      '2026-03-16T08:00:00.000Z',
      '2026-03-16T08:30:00.000Z',
      '2026-03-23T08:00:00.000Z',
      '2026-03-23T08:30:00.000Z',
      // Summer time from 29 March: the same 09:00 is an hour earlier in UTC.
      '2026-03-30T07:00:00.000Z',
      '2026-03-30T07:30:00.000Z',
    ]);
    const [slot] = slotsOf(berlin());
    expect(slot).toMatchObject({ endAt: '2026-03-16T08:30:00.000Z', timeZone: 'Europe/Berlin' });
  });

  it('are shown in the viewer’s zone, which changes its clock on another date (New York, 8 March)', () => {
    const slots = slotsOf(berlin());
    // 16 March: New York is on summer time, Berlin not yet: 5 hours apart, not 6.
    expect(inZone(slots[0]!.startAt, 'America/New_York')).toMatchObject({ time: '04:00', offset: '-04:00' });
    expect(inZone(slots[0]!.startAt, 'Europe/Berlin')).toMatchObject({ time: '09:00', offset: '+01:00' });
    // 30 March: both on summer time, 6 hours apart again; Berlin's wall time unchanged.
    expect(inZone(slots[4]!.startAt, 'America/New_York')).toMatchObject({
      time: '03:00',
      date: '2026-03-30',
    });
    expect(inZone(slots[4]!.startAt, 'Europe/Berlin')).toMatchObject({ time: '09:00', offset: '+02:00' });
  });

  it('leave out closed dates, busy times and the past; a wall time the zone skips gives no slot', () => {
    const doc = berlin({
      exceptions: [
        { date: '2026-03-23', hours: [] },
        // Sunday 29 March: 02:00–03:00 does not exist in Berlin.
        { date: '2026-03-29', hours: [{ from: '02:00', to: '04:00' }] },
      ],
      busy: [{ startAt: '2026-03-30T07:00:00.000Z', endAt: '2026-03-30T07:30:00.000Z' }],
    });
    expect(slotsOf(doc, { notBefore: '2026-03-16T08:15:00.000Z' }).map((s) => s.startAt)).toEqual([
      '2026-03-16T08:30:00.000Z',
      // 03:00 and 03:30 summer time; 02:00 and 02:30 never happened that night.
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T07:30:00.000Z',
    ]);
    expect(wallToInstant('2026-03-29', '02:30', 'Europe/Berlin')).toBeNull();
    expect(
      isOfferedSlot(doc, { startAt: '2026-03-30T07:30:00.000Z', endAt: '2026-03-30T08:00:00.000Z' }),
    ).toBe(true);
    expect(
      isOfferedSlot(doc, { startAt: '2026-03-30T07:00:00.000Z', endAt: '2026-03-30T07:30:00.000Z' }),
    ).toBe(false);
    expect(
      isOfferedSlot(doc, { startAt: '2026-03-30T07:10:00.000Z', endAt: '2026-03-30T07:40:00.000Z' }),
    ).toBe(false);
  });

  it('tell a requested time inside the opening hours from one outside, by the wall time across DST', () => {
    const doc = berlin({
      exceptions: [{ date: '2026-03-23', hours: [] }],
      busy: [{ startAt: '2026-03-16T08:00:00.000Z', endAt: '2026-03-16T08:30:00.000Z' }],
    });
    const at = (startAt: string, minutes: number) => ({
      startAt,
      endAt: new Date(Date.parse(startAt) + minutes * 60_000).toISOString(),
    });
    // 09:00-09:45 Berlin winter time: inside, though booked (a request asks, it does not book).
    expect(withinHours(doc, at('2026-03-16T08:00:00.000Z', 45))).toBe(true);
    // Runs past 10:00, starts before 09:00, a closed date, a Tuesday, after the last date offered.
    expect(withinHours(doc, at('2026-03-16T08:30:00.000Z', 45))).toBe(false);
    expect(withinHours(doc, at('2026-03-16T07:45:00.000Z', 30))).toBe(false);
    expect(withinHours(doc, at('2026-03-23T08:00:00.000Z', 30))).toBe(false);
    expect(withinHours(doc, at('2026-03-17T08:00:00.000Z', 30))).toBe(false);
    expect(withinHours(doc, at('2026-04-06T07:00:00.000Z', 30))).toBe(false);
    // Summer time: 09:00 Berlin is 07:00Z; 08:00Z-08:30Z is 10:00-10:30, outside.
    expect(withinHours(doc, at('2026-03-30T07:00:00.000Z', 60))).toBe(true);
    expect(withinHours(doc, at('2026-03-30T08:00:00.000Z', 30))).toBe(false);
  });

  it('refuse input the calendar does not know', () => {
    expect(() =>
      availabilityOf(
        provider.accountId,
        {
          timeZone: 'Mars/Olympus_Mons',
          slotMinutes: 30,
          weekly: [],
          from: '2026-03-01',
          until: '2026-03-02',
        },
        1,
        '2026-03-01T00:00:00.000Z',
        [],
      ),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() =>
      availabilityOf(
        provider.accountId,
        {
          timeZone: 'Europe/Berlin',
          slotMinutes: 30,
          weekly: [{ day: 1, from: '10:00', to: '09:00' }],
          from: '2026-03-01',
          until: '2026-03-02',
        },
        1,
        '2026-03-01T00:00:00.000Z',
        [],
      ),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field: 'weekly.0.to' }));
  });

  it("are read only from a document the provider's own key signed", async () => {
    const signed = await signAvailability(berlin(), provider.identity.secretKey, ed);
    const served = { ...signed, identityPublicKey: base64urlEncode(provider.identity.publicKey) };
    await expect(verifyAvailability(provider.accountId, served, ed)).resolves.toEqual(berlin());
    // The server swaps in more slots: the signature no longer holds.
    const widened = { ...served, availability: { ...served.availability, slotMinutes: 10 } };
    await expect(verifyAvailability(provider.accountId, widened, ed)).rejects.toMatchObject({
      code: 'AVAILABILITY_FORGED',
    });
    // Its own document, signed by its own key, served as this provider's.
    const other = deriveAccountKeys(generateRootSecret());
    const theirs = await signAvailability(
      { ...berlin(), accountId: other.accountId },
      other.identity.secretKey,
      ed,
    );
    await expect(
      verifyAvailability(
        provider.accountId,
        { ...theirs, identityPublicKey: base64urlEncode(other.identity.publicKey) },
        ed,
      ),
    ).rejects.toMatchObject({ code: 'AVAILABILITY_FORGED' });
  });
});
