// A patient and a clinician working together through the patient's screens, the clinician on its own Node
// device on the same server: a message with a file each way, delivered and read receipts both ways and
// live arrival; a published free time booked (shown in the patient's zone, confirmed by the clinic's
// device), a requested time confirmed by the clinician, one cancelled, an .ics without the reason; a
// treatment plan and its new version, what changed, acknowledged, the clinician sees the acknowledgement.
// Home's next steps, ranked: an empty chart's first steps; then an overdue dose, a plan to read and this
// week's appointment with the clinician's name.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, signUp, uniqueName, unlock } from './support';
import { clinicianSees, openClinician, shareThroughScreens } from './care-clinician';

const hhmm = (iso: string, timeZone: string): string =>
  new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    new Date(iso),
  );

test('messages both ways with receipts, appointments booked and confirmed, a plan acknowledged', async ({
  page,
  baseURL,
}) => {
  // Two people, each screen checked at two sizes: a long journey.
  test.slow();
  const clinician = await openClinician(baseURL ?? '', 'Dr Amara Okafor', {
    availability: { timeZone: 'America/New_York', from: '09:00', to: '12:00' },
  });
  const stops: (() => void)[] = [];
  try {
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Wang Xiu-Ying' });
    await go(page, '/care/messages');
    await expect(page.getByText('No messages yet.')).toBeVisible();
    await checkScreen(page, 'care-messages-empty');

    await shareThroughScreens(page, 'Dr Amara Okafor', {
      message: 'write',
      appointment: 'write',
      'treatment-plan': 'write',
    });
    const received = clinician.session.consent.grantsReceived;
    stops.push(received.subscribe(() => undefined));
    const [grant] = await clinicianSees(
      () => received.get(),
      (g) => g.length === 1,
      'the clinician holds the grant',
    );
    const P = grant!.patientId;
    const D = clinician.accountId;
    const inbox = clinician.session.care.messages.inbox;
    stops.push(inbox.subscribe(() => undefined));
    const appointments = clinician.session.care.appointments.list;
    stops.push(appointments.subscribe(() => undefined));
    const plans = clinician.session.care.plans.list;
    stops.push(plans.subscribe(() => undefined));

    // ---- Messages: the patient writes with a file.
    await go(page, '/care/messages');
    await page.getByRole('link', { name: 'New message' }).first().click();
    await expect(page.locator('#message-to')).toContainText('Dr Amara Okafor');
    await page.getByLabel('Message', { exact: true }).fill('My morning readings this week are attached.');
    // What was typed stays when the person leaves and comes back.
    await go(page, '/care/messages');
    await page.getByRole('link', { name: 'New message' }).first().click();
    await expect(page.getByLabel('Message', { exact: true })).toHaveValue(
      'My morning readings this week are attached.',
    );
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Attach files' }).click();
    await (
      await chooser
    ).setFiles({
      name: 'readings.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('date,systolic\n2026-03-01,150\n'),
    });
    await expect(page.getByRole('list', { name: 'Files to send' })).toContainText('readings.csv');
    await checkScreen(page, 'care-message-compose');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.waitForURL(/\/care\/messages\/[^/]+\/[^/]+$/);
    const mine = page.getByTestId('message').first();
    await expect(mine).toContainText('My morning readings');
    // The clinician's device received it live and wrote the delivered receipt.
    await expect(mine.getByTestId('receipt')).toHaveAttribute('data-status', 'delivered', {
      timeout: 60_000,
    });

    const [thread] = await clinicianSees(
      () => inbox.get(),
      (threads) => threads.length === 1 && threads[0]?.unread === 1,
      "the message is in the clinician's inbox, unread",
    );
    const file = thread!.latest.attachments?.[0];
    expect(file?.fileName).toBe('readings.csv');
    const bytes = await clinician.session.care.messages.attachment(thread!.latest, file!);
    expect(new TextDecoder().decode(bytes)).toContain('2026-03-01,150');

    // The patient waits in the inbox; the clinician reads and answers with a file.
    await go(page, '/care/messages');
    await clinician.session.care.messages.markRead(P, thread!.threadId);
    await clinician.session.care.messages.send({
      to: P,
      threadId: thread!.threadId,
      body: 'Thank you. Please reduce salt; the advice sheet is attached.',
      attachments: [
        {
          bytes: new TextEncoder().encode('%PDF-1.4 advice'),
          fileName: 'advice.pdf',
          mediaType: 'application/pdf',
        },
      ],
    });
    const row = page.getByTestId('thread-row').first();
    await expect(row).toContainText('Dr Amara Okafor');
    await expect(row.getByLabel('1 unread')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('inbox-unread')).toContainText('1 unread message');
    await checkScreen(page, 'care-messages');
    await row.click();
    await expect(page.getByTestId('message')).toHaveCount(2);
    await expect(page.getByTestId('message').nth(1)).toContainText('reduce salt');
    await expect(page.getByTestId('attachment')).toHaveCount(2);
    // The clinician read the patient's message: the receipt says so.
    await expect(page.getByTestId('message').first().getByTestId('receipt')).toHaveAttribute(
      'data-status',
      'read',
    );
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download advice.pdf' }).click();
    expect(readFileSync(await (await download).path(), 'utf8')).toBe('%PDF-1.4 advice');
    await checkScreen(page, 'care-thread');
    // Opening the thread read it: the clinician sees the patient's read receipt.
    const clinicianThread = clinician.session.care.messages.thread(P, thread!.threadId);
    stops.push(clinicianThread.subscribe(() => undefined));
    await clinicianSees(
      () => clinicianThread.get(),
      (ms) => ms.find((m) => m.record.senderId === D)?.record.status === 'read',
      "the clinician sees the patient's read receipt",
    );

    // ---- Appointments: a free time, shown in the patient's zone, booked and confirmed by the clinic's device.
    await go(page, '/care/appointments');
    await checkScreen(page, 'care-appointments-empty');
    await page.getByRole('link', { name: 'Book or ask' }).first().click();
    const slot = page.getByTestId('slot').first();
    const startAt = (await slot.getAttribute('data-start')) ?? '';
    expect(hhmm(startAt, 'America/New_York')).toBe('09:00');
    await expect(slot).toHaveText(hhmm(startAt, 'Europe/Amsterdam'));
    await slot.click();
    await page
      .getByRole('tabpanel', { name: 'Free times' })
      .getByLabel('Reason (optional)')
      .fill('Blood pressure review');
    await checkScreen(page, 'care-book-slot');
    await page.getByRole('button', { name: 'Book this time' }).click();
    await page.waitForURL(/\/care\/appointments(\?|$)/);
    const booked = page.getByTestId('appointment-card').filter({ hasText: 'Blood pressure review' });
    await expect(booked).toHaveAttribute('data-status', 'scheduled', { timeout: 60_000 });
    await expect(booked.getByTestId('appointment-state')).toContainText('Confirmed by Dr Amara Okafor');
    await expect(booked).toContainText(hhmm(startAt, 'Europe/Amsterdam'));
    await expect(booked).toContainText('At the clinic');

    // A calendar file without the reason.
    const ics = page.waitForEvent('download');
    await booked.getByRole('button', { name: 'Add to calendar' }).click();
    const icsText = readFileSync(await (await ics).path(), 'utf8');
    expect(icsText).toContain('BEGIN:VCALENDAR');
    expect(icsText).not.toContain('Blood pressure');

    // Ask for a time; the clinician confirms it.
    await page.getByRole('link', { name: 'Book or ask' }).first().click();
    await page.getByRole('tab', { name: 'Ask for a time' }).click();
    await page
      .getByRole('tabpanel', { name: 'Ask for a time' })
      .getByLabel('Reason (optional)')
      .fill('Repeat prescription');
    const later = new Date(Date.now() + 20 * 86_400_000);
    const local = `${later.toISOString().slice(0, 10)}T10:30`;
    await page.locator('#preferred-0').fill(local);
    // A reload locks the app; after unlocking, what was typed is back (sealed on the device meanwhile).
    await page.waitForTimeout(600);
    await page.reload();
    await unlock(page);
    await page.getByRole('tab', { name: 'Ask for a time' }).click();
    await expect(
      page.getByRole('tabpanel', { name: 'Ask for a time' }).getByLabel('Reason (optional)'),
    ).toHaveValue('Repeat prescription');
    await expect(page.locator('#preferred-0')).toHaveValue(local);
    await checkScreen(page, 'care-book-request');
    await page.getByRole('button', { name: 'Send the request' }).click();
    const asked = page.getByTestId('appointment-card').filter({ hasText: 'Repeat prescription' });
    await expect(asked).toHaveAttribute('data-status', 'requested');
    await expect(asked.getByTestId('appointment-state')).toContainText('Waiting for Dr Amara Okafor');
    const request = await clinicianSees(
      () => appointments.get().find((a) => a.record.reason === 'Repeat prescription'),
      (a) => a !== undefined,
      'the request reaches the clinician',
    );
    // The clinic proposes another time; the patient sees it as its to answer, and accepts.
    const asked0 = Date.parse(request!.record.preferredTimes![0]!.startAt);
    const offer = {
      startAt: new Date(asked0 + 24.5 * 3_600_000).toISOString(),
      endAt: new Date(asked0 + 25 * 3_600_000).toISOString(),
    };
    await clinician.session.care.appointments.propose(request!.record.id, offer, {
      note: 'The morning is full; would the next day suit you?',
    });
    await expect(asked).toHaveAttribute('data-status', 'proposed', { timeout: 60_000 });
    await expect(asked.getByTestId('appointment-state')).toContainText('proposes this new time');
    await expect(asked).toContainText('the next day suit you');
    await expect(asked).toContainText(hhmm(offer.startAt, 'Europe/Amsterdam'));
    await checkScreen(page, 'care-appointment-proposed');
    await asked.getByRole('button', { name: 'Accept the new time' }).click();
    await expect(asked).toHaveAttribute('data-status', 'scheduled');
    await clinicianSees(
      () => appointments.get().find((a) => a.record.id === request!.record.id)?.record.status,
      (s) => s === 'scheduled',
      'the clinician sees the new time accepted',
    );
    await checkScreen(page, 'care-appointments');

    // Cancel the first one: the clinic sees it cancelled.
    await booked.getByRole('button', { name: 'Cancel appointment' }).click();
    await page.getByLabel('A word to the clinic (optional)').fill('Feeling better');
    await checkScreen(page, 'care-appointment-cancel');
    await page.getByRole('button', { name: 'Cancel it' }).click();
    await expect(booked).toHaveAttribute('data-status', 'canceled');
    await clinicianSees(
      () => appointments.get().find((a) => a.record.reason === 'Blood pressure review')?.record.status,
      (s) => s === 'canceled',
      'the clinician sees the cancellation',
    );

    // ---- A treatment plan, a new version, what changed, acknowledged.
    const plan = await clinician.session.records.add(
      'TreatmentPlan',
      { summary: 'Blood pressure control', details: 'Lisinopril 10 mg daily', status: 'active' },
      { patientId: P },
    );
    await clinician.session.records.update(
      'TreatmentPlan',
      plan.id,
      { details: 'Lisinopril 20 mg daily; home readings twice a week' },
      { reason: 'readings still high' },
    );
    await go(page, '/care/plans');
    const planRow = page.getByTestId('plan-row').filter({ hasText: 'Blood pressure control' });
    await expect(planRow.getByTestId('plan-to-acknowledge')).toBeVisible({ timeout: 60_000 });
    await checkScreen(page, 'care-plans');
    await planRow.getByRole('link').first().click();
    await expect(page.getByTestId('plan-diff')).toContainText('Lisinopril 20 mg daily');
    await expect(page.getByTestId('plan-diff')).toContainText('Lisinopril 10 mg daily');
    await expect(page.getByText('readings still high').first()).toBeVisible();
    await checkScreen(page, 'care-plan');
    await page.getByRole('button', { name: 'I have read version 2' }).click();
    await expect(page.getByTestId('ack-current')).toContainText('version 2');
    await clinicianSees(
      () => plans.get().find((p) => p.record.id === plan.id)?.acknowledgement,
      (a) => a?.current === true && a.version === 2,
      'the clinician sees the acknowledgement of version 2',
    );
  } finally {
    for (const stop of stops) stop();
    await clinician.close();
  }
});

test("home's next steps: an empty chart's first steps, then an overdue dose, a plan to read, this week's visit", async ({
  page,
  baseURL,
}) => {
  const clinician = await openClinician(baseURL ?? '', 'Dr Priya Raman');
  const stops: (() => void)[] = [];
  try {
    await signUp(page, { loginName: uniqueName('pat'), fullName: 'Lee Ming' });
    await go(page, '/');
    const next = page.getByTestId('home-next-steps');
    const steps = next.getByTestId('next-step');
    await expect(steps).toHaveText([
      'To startBring in your records from a file',
      'To startFill in your emergency card',
      'To startRecord your allergies',
    ]);
    // On a phone the list comes first, above the chart's cards.
    await page.setViewportSize({ width: 390, height: 844 });
    const [list, allergies] = [
      await next.boundingBox(),
      await page.getByTestId('home-allergies').boundingBox(),
    ];
    expect(list!.y).toBeLessThan(allergies!.y);
    await page.setViewportSize({ width: 1440, height: 900 });
    await checkScreen(page, 'home-first-steps');
    await steps.getByRole('link', { name: 'Fill in your emergency card' }).click();
    await page.waitForURL(/\/emergency$/);

    await addRecord(page, 'immunizations', {
      vaccineName: 'Tetanus',
      administeredAt: '2016-03-01',
      nextDoseDate: '2026-03-01',
    });
    await shareThroughScreens(page, 'Dr Priya Raman', { appointment: 'write', 'treatment-plan': 'write' });
    const received = clinician.session.consent.grantsReceived;
    stops.push(received.subscribe(() => undefined));
    const [grant] = await clinicianSees(
      () => received.get(),
      (g) => g.length === 1 && g[0]?.state === 'active',
      'the clinician holds the grant',
    );
    const at = { patientId: grant!.patientId };
    // The plan sets a goal for a test and asks for a re-check that is already late.
    await clinician.session.records.add(
      'TreatmentPlan',
      {
        summary: 'Blood pressure control',
        status: 'active',
        goal: { testName: 'Systolic blood pressure', target: '<140' },
        recheck: { testName: 'Potassium', due: '2026-10-01' },
      },
      at,
    );
    const inTwoDays = Date.now() + 2 * 86_400_000;
    await clinician.session.records.add(
      'Appointment',
      {
        providerId: clinician.accountId,
        startAt: new Date(inTwoDays).toISOString(),
        endAt: new Date(inTwoDays + 1_800_000).toISOString(),
        status: 'scheduled',
        location: 'Harbour Clinic',
      },
      at,
    );

    // Ranked: the overdue dose and re-check (earliest first), the plan to read, the visit this week, each
    // with the clinician's name.
    await go(page, '/');
    // The ranked list only: the week's access is a line of its own below it, drawn once the log is read.
    const ranked = next.locator('ol [data-testid="next-step"]');
    await expect(ranked).toHaveCount(4, { timeout: 60_000 });
    await expect(ranked.nth(0)).toHaveAttribute('data-rank', 'overdue');
    await expect(ranked.nth(0)).toContainText('Tetanus: the next dose was due Mar 1, 2026');
    await expect(ranked.nth(1)).toHaveAttribute('data-rank', 'overdue');
    await expect(ranked.nth(1)).toContainText(
      'Potassium: the re-check your plan asks for was due Oct 1, 2026',
    );
    await expect(ranked.nth(2)).toHaveAttribute('data-rank', 'acknowledge');
    await expect(ranked.nth(2)).toContainText(
      'Read and acknowledge “Blood pressure control” from Dr Priya Raman',
    );
    await expect(ranked.nth(3)).toHaveAttribute('data-rank', 'week');
    await expect(ranked.nth(3)).toContainText('Appointment with Dr Priya Raman');
    await expect(ranked.nth(3)).toContainText('Harbour Clinic');
    await checkScreen(page, 'home-next-steps');
    await ranked.nth(2).getByRole('link').click();
    await page.waitForURL(/\/care\/plans\/[0-9A-Z]{26}$/);
    await expect(page.getByTestId('plan-goal')).toHaveText('Goal: Systolic blood pressure <140');
    await expect(page.getByTestId('plan-recheck')).toHaveText('Re-check: Potassium by Oct 1, 2026');
    await checkScreen(page, 'care-plan-goal');

    // A result of the re-check's test takes the step away; the goal shows on the test's trend.
    await addRecord(page, 'labs', {
      testName: 'Potassium',
      value: '4.2',
      units: 'mmol/L',
      // Five minutes ago, as the browser's clock (Amsterdam) reads it.
      effectiveAt: new Intl.DateTimeFormat('sv-SE', {
        timeZone: 'Europe/Amsterdam',
        dateStyle: 'short',
        timeStyle: 'short',
      })
        .format(Date.now() - 5 * 60_000)
        .replace(' ', 'T'),
    });
    await addRecord(page, 'labs', {
      testName: 'Systolic blood pressure',
      value: '152',
      units: 'mm[Hg]',
      effectiveAt: '2026-11-02T08:00',
    });
    await go(page, '/');
    await expect(ranked).toHaveCount(3);
    await expect(steps.filter({ hasText: 'Potassium' })).toHaveCount(0);
    await go(page, '/labs/trends');
    await page.getByLabel('Test', { exact: true }).selectOption({ label: 'Systolic blood pressure' });
    await expect(page.getByTestId('trend-goal')).toHaveText(
      'Dashed: the target the plan “Blood pressure control” sets, <140.',
    );
    await checkScreen(page, 'lab-trend-goal');
  } finally {
    for (const stop of stops) stop();
    await clinician.close();
  }
});
