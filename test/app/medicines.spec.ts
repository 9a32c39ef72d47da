// Medication schedules: times of day on a medication, today's doses with Taken and Skipped, a reminder in
// the open app when a dose comes due, a mark made offline on the phone showing on the laptop (both
// present), the week's adherence on the medication, and a clinician holding Medications receives the
// marks (their own device, the same server).
import { expect, test } from '@playwright/test';
import { addRecord, addThisDevice, checkScreen, go, signUp, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

/** `HH:MM` as English writes a time of day: `8:05 PM`. */
const inEnglish = (hhmm: string): string => {
  const [h = 0, m = 0] = hhmm.split(':').map(Number);
  return `${String(((h + 11) % 12) + 1)}:${String(m).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
};

/** The browser's wall clock (the config's zone) now, `HH:MM`. */
const wallClock = (): string =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Amsterdam',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(Date.now());

test('a schedule reminds in the open app; a dose marked offline on the phone shows on the laptop; the clinician gets the marks', async ({
  page,
  browser,
  baseURL,
}) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Ines Moreau');
  try {
    const loginName = uniqueName('med');
    await signUp(page, { loginName, fullName: 'Huang Li-Hua' });
    // One dose due now (its reminder comes at once), one at the end of the day.
    const now = wallClock();
    const late = now === '23:59' ? '23:58' : '23:59';
    // Typed as HH:MM; shown as English writes times (8:05 PM).
    const [nowShown, lateShown] = [now, late].map(inEnglish);
    const medicationId = await addRecord(page, 'medications', {
      name: 'Metformin',
      dose: '500 mg',
      'schedule.times': `${late}, ${now}`,
      'schedule.food': { select: 'with' },
    });
    await expect(page.getByText(`${nowShown}, ${lateShown}`, { exact: true })).toBeVisible();
    await expect(page.getByTestId('dose-adherence')).toContainText(
      `Every day at ${nowShown}, ${lateShown} · With food`,
    );

    // The open app reminds of the dose come due, with nothing of the medicine in the words.
    const reminder = page.locator('.mantine-Notification-root').filter({ hasText: 'Medicine time' });
    await expect(reminder).toContainText('Time for your medicine', { timeout: 60_000 });
    await expect(reminder).not.toContainText('Metformin');

    await go(page, '/medicines/today');
    const slots = page.getByTestId('dose-slot');
    await expect(slots).toHaveCount(2);
    await expect(slots.nth(0)).toContainText(nowShown ?? '');
    await expect(slots.nth(0)).toContainText('500 mg · With food');
    // The screen says when reminders can come: no push service reaches a closed app.
    await expect(page.getByTestId('medicines-reminders')).toHaveText(
      'Reminders come while Hale is open here or the desktop app runs. Hale uses no push service: a closed app cannot remind you.',
    );
    await checkScreen(page, 'medicines-today');

    // The phone: the same account on a second device.
    const phoneContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const phone = await phoneContext.newPage();
    await addThisDevice(phone, loginName, 'Phone');
    await expect(phone.getByTestId('home-next-steps')).toBeVisible({ timeout: 60_000 });
    await go(phone, '/medicines/today');
    const phoneSlots = phone.getByTestId('dose-slot');
    await expect(phoneSlots).toHaveCount(2, { timeout: 60_000 });

    // Offline, the phone marks the dose due now taken; the laptop shows it once the phone is back.
    await phoneContext.setOffline(true);
    await phone.getByRole('button', { name: `Taken: Metformin at ${nowShown}` }).click();
    await expect(phoneSlots.nth(0)).toHaveAttribute('data-status', 'taken');
    await expect(phoneSlots.nth(0).getByTestId('dose-mark')).toContainText('Taken at');
    await expect(slots.nth(0)).toHaveAttribute('data-status', 'open');
    await phoneContext.setOffline(false);
    await expect(slots.nth(0)).toHaveAttribute('data-status', 'taken', { timeout: 60_000 });

    // The laptop skips the evening dose by keyboard; the phone shows it.
    const skip = page.getByRole('button', { name: `Skipped: Metformin at ${lateShown}` });
    await skip.focus();
    await page.keyboard.press('Enter');
    await expect(slots.nth(1)).toHaveAttribute('data-status', 'skipped');
    await expect(skip).toHaveAttribute('aria-pressed', 'true');
    await expect(phoneSlots.nth(1)).toHaveAttribute('data-status', 'skipped', { timeout: 60_000 });
    await checkScreen(phone, 'medicines-today-marked');

    // The medication says how the week's schedule was kept (the evening dose is not due yet).
    await go(page, `/chart/medications/${medicationId}`);
    await expect(page.getByTestId('adherence-line')).toHaveText('Last 7 days: 1 of 1 doses taken, 0 skipped');
    await expect(page.getByTestId('dose-row')).toHaveCount(2);
    await checkScreen(page, 'medication-adherence');

    // A clinician holding Medications receives the marks with the medication.
    await shareThroughScreens(page, 'Dr Ines Moreau', { medication: 'read' });
    const stop = clinician.session.consent.grantsReceived.subscribe(() => undefined);
    const grants = await clinicianSees(
      () => clinician.session.consent.grantsReceived.get(),
      (g) => g.length === 1 && g[0]?.state === 'active',
      'the clinician holds the grant',
    );
    const chart = grants[0]?.patientId ?? '';
    const marks = await clinicianSees(
      async () =>
        (await clinician.session.records.query('MedicationDose', { patientId: chart })).items
          .map((r) => `${r.record.medicationName} ${r.record.status}`)
          .sort(),
      (seen) => seen.length === 2,
      'the clinician receives both marks',
    );
    expect(marks).toEqual(['Metformin skipped', 'Metformin taken']);
    stop();
    await phoneContext.close();
  } finally {
    await clinician.close();
  }
});
