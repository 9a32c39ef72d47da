// Appointments answered by a clinician in the workspace, a patient in the patient app, each in its own
// browser on the same server. The clinician publishes office hours, then a day off and a day of other
// hours: the patient's free times lose those slots. A time asked for outside the hours is warned about.
// The patient asks for two times; the clinician declines
// one and proposes another time for the other; the patient sees "declined" and "new time proposed",
// accepts the proposal, and it ends confirmed on both sides; then the patient cancels it and the clinic
// sees it cancelled. The patient's page runs as in the desktop shell's window (its preload's
// `window.hale.setReminders` recorded — the Electron binary cannot run here): the confirmed appointment's
// start time, and only that with the fixed words, is handed to the main process for its reminders.
import { expect, test, type Page } from '@playwright/test';
import { checkScreen, go, signUp, uniqueName } from './support';
import { shareThroughScreens } from './care-clinician';
import { signUpClinician } from './workspace-support';

const ZONE = 'Europe/Amsterdam';
const dayOf = (iso: string): string =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(iso));
const hhmm = (iso: string): string =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: ZONE,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso));

/** The free times the patient's booking screen shows: start instants, grouped by day in the viewer's zone. */
async function freeTimes(page: Page): Promise<Map<string, string[]>> {
  await go(page, '/care/appointments');
  await page.getByRole('link', { name: 'Book or ask' }).first().click();
  await expect(page.getByTestId('slot').first()).toBeVisible({ timeout: 30_000 });
  const starts = await page
    .getByTestId('slot')
    .evaluateAll((els) =>
      els.map((e) => (e as unknown as { dataset: { start?: string } }).dataset.start ?? ''),
    );
  const byDay = new Map<string, string[]>();
  for (const s of starts) byDay.set(dayOf(s), [...(byDay.get(dayOf(s)) ?? []), hhmm(s)]);
  return byDay;
}

/** What the page handed the desktop shell's `setReminders`, latest last. */
interface Handed {
  readonly words: { title: string; day: string; hour: string };
  readonly starts: number[];
}
const handed = async (page: Page): Promise<Handed[]> => {
  const text = await page.evaluate('JSON.stringify(window.__haleReminders ?? [])');
  return JSON.parse(String(text)) as Handed[];
};

/** Asks for a time through the patient's booking screen. */
async function ask(page: Page, reason: string, local: string): Promise<void> {
  await go(page, '/care/appointments');
  await page.getByRole('link', { name: 'Book or ask' }).first().click();
  await page.getByRole('tab', { name: 'Ask for a time' }).click();
  const panel = page.getByRole('tabpanel', { name: 'Ask for a time' });
  await panel.getByLabel('Reason (optional)').fill(reason);
  await page.locator('#preferred-0').fill(local);
  await page.getByRole('button', { name: 'Send the request' }).click();
  const card = page.getByTestId('appointment-card').filter({ hasText: reason });
  await expect(card).toHaveAttribute('data-status', 'requested', { timeout: 30_000 });
}

test('a day off and other hours take slots away; a request declined, another moved, accepted, then cancelled', async ({
  page,
  browser,
  baseURL,
}) => {
  // Two people signing up and a clinic's week of answers, each screen by every axe rule at two sizes.
  test.setTimeout(600_000);
  expect(baseURL).toBeDefined();
  const clinic = await browser.newContext({ timezoneId: ZONE, locale: 'en-US' });
  const doctor = await clinic.newPage();
  // The desktop shell's bridge as its preload exposes it, with only the reminders call (recorded).
  await page.addInitScript(
    'window.__haleReminders = []; window.hale = { platform: "electron", setReminders: (words, starts) => { window.__haleReminders.push({ words, starts }); return Promise.resolve(); } };',
  );
  try {
    // The clinician: office hours published as the form offers them (weekdays, 09–12 and 13–17).
    await signUpClinician(doctor, { displayName: 'Dr Rafael Costa' });
    await go(doctor, '/workspace/schedule/availability');
    await doctor.getByRole('button', { name: 'Publish availability' }).click();
    await expect(doctor.getByTestId('availability-published')).toBeVisible({ timeout: 30_000 });

    // The patient shares appointments with the clinician and sees its free times.
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Ivanova Daria' });
    await shareThroughScreens(page, 'Dr Rafael Costa', { appointment: 'write' });
    const before = await freeTimes(page);
    const days = [...before.keys()];
    expect(days.length).toBeGreaterThan(3);
    // Two whole days ahead (the first listed may be today's remainder).
    const dayOff = days[1]!;
    const shortDay = days[2]!;
    expect(before.get(dayOff)).toContain('09:00');
    expect(before.get(shortDay)).toEqual(expect.arrayContaining(['09:00', '10:00', '10:30', '13:00']));

    // The clinician: the first of them closed, the second open 10:00–11:00 only; published again.
    await go(doctor, '/workspace/patients');
    await go(doctor, '/workspace/schedule/availability');
    await doctor.getByRole('button', { name: 'Add exception' }).click();
    await doctor.getByLabel('Date', { exact: true }).last().fill(dayOff);
    await doctor.getByRole('button', { name: 'Add exception' }).click();
    await doctor.getByLabel('Date', { exact: true }).last().fill(shortDay);
    await doctor.getByLabel('Closed', { exact: true }).last().uncheck();
    await doctor.getByLabel('From', { exact: true }).last().fill('10:00');
    await doctor.getByLabel('Until', { exact: true }).last().fill('11:00');
    await doctor.getByLabel('Until', { exact: true }).last().blur();
    await doctor.getByRole('heading', { name: 'Exceptions' }).scrollIntoViewIfNeeded();
    await checkScreen(doctor, 'workspace-availability-exceptions');
    await doctor.getByRole('button', { name: 'Publish availability' }).click();
    await expect(doctor.getByTestId('availability-published')).toBeVisible({ timeout: 30_000 });

    // The patient's free times: nothing on the day off, only the two half hours on the short day.
    // The new hours reach the patient's screen when the directory answers with them (read again until so).
    let after = new Map<string, string[]>();
    await expect
      .poll(
        async () => {
          after = await freeTimes(page);
          return after.has(dayOff);
        },
        { timeout: 60_000 },
      )
      .toBe(false);
    expect(after.get(shortDay)).toEqual(['10:00', '10:30']);
    expect(after.get(days[3]!)).toEqual(before.get(days[3]!));
    await expect(page.getByTestId('slot').filter({ hasText: '09:00' }).first()).toBeVisible();
    await checkScreen(page, 'care-book-after-exceptions');

    // Two requests of the patient's own times.
    const when = (daysAhead: number, time: string): string =>
      `${new Date(Date.now() + daysAhead * 86_400_000).toISOString().slice(0, 10)}T${time}`;
    // A time asked for outside the published hours is warned about (not refused); one inside is not.
    const inside = await page.getByTestId('slot').nth(2).getAttribute('data-start');
    await page.getByRole('tab', { name: 'Ask for a time' }).click();
    const warning = page.getByText('Outside the hours Dr Rafael Costa published for appointments');
    await page.locator('#preferred-0').fill(when(9, '03:00'));
    await expect(warning).toBeVisible({ timeout: 30_000 });
    await checkScreen(page, 'care-book-outside-hours');
    const local = await page.evaluate<string>(
      `(() => { const d = new Date(${JSON.stringify(inside)}); const p = (n) => String(n).padStart(2, '0'); return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()); })()`,
    );
    await page.locator('#preferred-0').fill(local);
    await expect(page.locator('#preferred-0')).toHaveValue(local);
    await expect(warning).toBeHidden();
    await ask(page, 'Knee pain after running', when(9, '09:30'));
    await ask(page, 'Repeat prescription', when(10, '11:00'));

    // The clinician's schedule: both wait; one declined, another time proposed for the other.
    await go(doctor, '/workspace/schedule');
    const waiting = (reason: string) =>
      doctor
        .locator('[data-testid^="appointment-"]')
        .filter({ hasText: reason })
        .filter({ has: doctor.getByRole('button', { name: 'Decline' }) });
    await expect(waiting('Knee pain after running')).toBeVisible({ timeout: 30_000 });
    await expect(waiting('Repeat prescription')).toBeVisible({ timeout: 30_000 });
    await waiting('Knee pain after running').getByRole('button', { name: 'Decline' }).click();
    await expect(doctor.getByText('Request declined.')).toBeVisible();
    await waiting('Repeat prescription').getByRole('button', { name: 'Propose another time' }).click();
    const dialog = doctor.getByRole('dialog', { name: 'Propose another time' });
    const newTime = dialog.getByLabel('New time');
    await newTime.fill(when(11, '14:30'));
    await dialog
      .getByLabel('Note to the patient (optional)')
      .fill('The morning is full; would the afternoon suit you?');
    await checkScreen(doctor, 'workspace-propose-time');
    await dialog.getByRole('button', { name: 'Send proposal' }).click();
    await expect(dialog).toBeHidden();
    await expect(waiting('Repeat prescription')).toHaveCount(0);

    // The patient sees both answers, in words.
    await go(page, '/care/appointments');
    const declined = page.getByTestId('appointment-card').filter({ hasText: 'Knee pain after running' });
    const moved = page.getByTestId('appointment-card').filter({ hasText: 'Repeat prescription' });
    await expect(declined).toHaveAttribute('data-status', 'declined', { timeout: 30_000 });
    await expect(declined.getByTestId('appointment-state')).toContainText('Declined by Dr Rafael Costa');
    await expect(moved).toHaveAttribute('data-status', 'proposed', { timeout: 30_000 });
    await expect(moved.getByTestId('appointment-state')).toContainText(
      'Dr Rafael Costa proposes this new time',
    );
    await expect(moved).toContainText('would the afternoon suit you?');
    await expect(moved).toContainText('14:30');
    await checkScreen(page, 'care-appointments-answered');

    // Accepted: confirmed on both sides.
    await moved.getByRole('button', { name: 'Accept the new time' }).click();
    await expect(moved).toHaveAttribute('data-status', 'scheduled');
    await expect(moved).toContainText('14:30');
    // The desktop shell's main process is handed the start time, with the fixed words, nothing else.
    const start = Number(await page.evaluate(`new Date(${JSON.stringify(when(11, '14:30'))}).getTime()`));
    await expect.poll(async () => (await handed(page)).at(-1)?.starts).toEqual([start]);
    const last = (await handed(page)).at(-1);
    expect(last?.words).toEqual({
      title: 'Appointment soon',
      day: 'You have an appointment within a day. Open Hale to see it.',
      hour: 'You have an appointment within the hour. Open Hale to see it.',
      doseTitle: 'Medicine time',
      dose: 'Time for your medicine. Open Hale to see it.',
    });
    expect(JSON.stringify(await handed(page))).not.toMatch(/prescription|Costa|Knee|morning/);
    await go(doctor, '/workspace/schedule');
    const booked = doctor
      .getByTestId('schedule-calendar')
      .locator('[data-testid^="appointment-"]')
      .filter({ hasText: /2:30\sPM/ });
    await expect(doctor.getByText('No request is waiting for you.')).toBeVisible({ timeout: 30_000 });
    // The week of the new time in the calendar: a week or two ahead.
    for (let i = 0; i < 3 && (await booked.count()) === 0; i++)
      await doctor.getByRole('button', { name: 'Later' }).click();
    await expect(booked.first().getByTestId('appointment-status')).toHaveText('Scheduled', {
      timeout: 30_000,
    });

    // The patient cancels it; the clinic sees it cancelled.
    await moved.getByRole('button', { name: 'Cancel appointment' }).click();
    await page.getByLabel('A word to the clinic (optional)').fill('I found a pharmacy nearer home');
    await page.getByRole('button', { name: 'Cancel it' }).click();
    await expect(moved).toHaveAttribute('data-status', 'canceled');
    await expect(moved.getByTestId('appointment-state')).toContainText('Cancelled by You');
    // Nothing left to remind of: the list handed to the desktop shell is empty again.
    await expect.poll(async () => (await handed(page)).at(-1)?.starts).toEqual([]);
    await expect(booked.first().getByTestId('appointment-status')).toHaveText('Cancelled', {
      timeout: 30_000,
    });
  } finally {
    await clinic.close();
  }
});
