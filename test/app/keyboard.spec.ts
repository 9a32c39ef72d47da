// Journeys done with the keyboard alone (Tab, Shift+Tab, Enter, arrows), every stop showing its focus
// (support.ts `tabTo`): home's next steps to the vaccine they name; today's medicines, a dose marked taken;
// a grant's sharing changed from the Sharing screen to the review and back.
import { expect, test } from '@playwright/test';
import { addRecord, focusTop, go, noNotices, signUp, tabTo, uniqueName } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

/** The browser's wall clock (the config's zone) now, `HH:MM`, and as English writes it (`8:05 PM`). */
const nowOnTheWall = (): { typed: string; shown: string } => {
  const typed = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Amsterdam',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(Date.now());
  const [h = 0, m = 0] = typed.split(':').map(Number);
  return {
    typed,
    shown: `${String(((h + 11) % 12) + 1)}:${String(m).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`,
  };
};

test('next steps and today’s medicines by keyboard alone: an overdue vaccine opened, a dose marked taken', async ({
  page,
}) => {
  await signUp(page, { loginName: uniqueName('keys-home') });
  const tdap = await addRecord(page, 'immunizations', {
    vaccineName: 'Tdap',
    administeredAt: '2015-03-01',
    nextDoseDate: '2025-03-01',
  });
  const now = nowOnTheWall();
  await addRecord(page, 'medications', { name: 'Metformin', dose: '500 mg', 'schedule.times': now.typed });
  await go(page, '/');
  await expect(page.getByTestId('next-step').first()).toBeVisible();
  await page.mouse.move(0, 0);
  await noNotices(page);

  // Home: the overdue dose is a step; Enter opens the vaccine it names.
  await focusTop(page);
  await tabTo(page, /^Tdap: the next dose was due/);
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`/chart/immunizations/${tdap}$`));
  await expect(page.getByRole('heading', { name: 'Tdap' })).toBeVisible();

  // The navigation to today's medicines, and the dose due now marked taken.
  await focusTop(page);
  await tabTo(page, /^Today’s medicines$/);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/medicines\/today$/);
  const taken = page.getByRole('button', { name: `Taken: Metformin at ${now.shown}` });
  await expect(taken).toBeVisible();
  await tabTo(page, new RegExp(`^Taken: Metformin at ${now.shown}$`));
  await page.keyboard.press('Enter');
  await expect(taken).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('dose-slot').first()).toHaveAttribute('data-status', 'taken');
  await expect(taken).toBeFocused();
});

test('a grant changed by keyboard alone: a kind added, reviewed, confirmed', async ({ page, baseURL }) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Tse Hoi-Lam');
  try {
    await signUp(page, { loginName: uniqueName('keys-share') });
    await shareThroughScreens(page, 'Dr Tse Hoi-Lam', { allergy: 'read' });
    await page.mouse.move(0, 0);
    await noNotices(page);

    await focusTop(page);
    await tabTo(page, /^Change what Dr Tse Hoi-Lam can see and do$/);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { name: 'Change what you share' })).toBeVisible();
    // A native select: the arrow moves its choice (Not shared → Read).
    await tabTo(page, /^share-condition$/);
    await page.keyboard.press('ArrowDown');
    await expect(page.locator('#share-condition')).toHaveValue('read');
    await tabTo(page, /^Review the change$/);
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('change-added')).toHaveText('Will also see: Conditions');
    await tabTo(page, /^Change the sharing$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/care\/sharing$/);
    await expect(page.locator('[data-testid="grant-card"][data-state="active"]')).toContainText(
      'Conditions · read',
    );
    const received = clinician.session.consent.grantsReceived;
    const stop = received.subscribe(() => undefined);
    await clinicianSees(
      () =>
        received
          .get()[0]
          ?.streams.map((s) => s.type)
          .join(' '),
      (kinds) => kinds === 'allergy condition',
      'the clinician holds the changed grant',
    ).finally(stop);
  } finally {
    await clinician.close();
  }
});
