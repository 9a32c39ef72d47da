// Nothing typed is lost: a form's typing is sealed on the device as it is typed, so after a reload (a crash,
// as far as the page knows) and an unlock the form opens with it; after a lock too. Nothing of it is in
// IndexedDB in clear.
import { expect, test } from '@playwright/test';
import { addRecord, checkScreen, go, signUp, uniqueName, unlock } from './support';

test('type into a form, reload, unlock: the typing is there; after a lock too', async ({ page }) => {
  await signUp(page, { loginName: uniqueName('draft') });
  await go(page, '/chart/allergies/new');
  await page.locator('#field-substance').fill('Brazil nuts');
  await page.locator('#field-reaction').fill('Swollen lips within minutes');
  await expect(page.getByTestId('draft-state')).toHaveAttribute('data-state', 'kept');

  // Sealed: the words are nowhere in this origin's IndexedDB in clear.
  const clear = await page.evaluate(`(async () => {
    const found = [];
    for (const info of await indexedDB.databases()) {
      const db = await new Promise((ok, no) => { const r = indexedDB.open(info.name); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
      for (const name of db.objectStoreNames) {
        const all = await new Promise((ok) => { const r = db.transaction(name).objectStore(name).getAll(); r.onsuccess = () => ok(r.result); });
        if (JSON.stringify(all).includes('Brazil')) found.push(info.name + '/' + name);
      }
      db.close();
    }
    return found;
  })()`);
  expect(clear).toEqual([]);

  await page.reload();
  await unlock(page);
  await expect(page).toHaveURL(/\/chart\/allergies\/new$/);
  await expect(page.locator('#field-substance')).toHaveValue('Brazil nuts');
  await expect(page.locator('#field-reaction')).toHaveValue('Swollen lips within minutes');
  await expect(page.getByText('What you typed before is back.')).toBeVisible();
  await checkScreen(page, 'draft-restored');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/chart\/allergies\/[0-9A-Z]{26}$/);

  // An edit, then a lock: the typing comes back from the device, not from the page's memory.
  const id = await addRecord(page, 'medications', { name: 'Lisinopril', dose: '10 mg' });
  await go(page, `/chart/medications/${id}/edit`);
  await page.locator('#field-dose').fill('20 mg');
  await expect(page.getByTestId('draft-state')).toHaveAttribute('data-state', 'kept');
  await page.getByTestId('lock-now').click();
  await unlock(page);
  await expect(page).toHaveURL(new RegExp(`/chart/medications/${id}/edit$`));
  await expect(page.locator('#field-dose')).toHaveValue('20 mg');

  // Saved: the draft is gone; the next new form is empty.
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(new RegExp(`/chart/medications/${id}$`));
  await go(page, '/chart/allergies/new');
  await expect(page.locator('#field-substance')).toHaveValue('');
});

test('Add again right after Save: a new, empty form each time; each record saved once', async ({ page }) => {
  await signUp(page, { loginName: uniqueName('again') });
  for (const substance of ['Peanuts', 'Penicillin', 'Latex']) {
    await go(page, '/chart/allergies/new');
    await page.locator('#field-substance').fill(substance);
    await page.locator('#field-severity').selectOption('severe');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/chart\/allergies\/[0-9A-Z]{26}$/);
    // At once, before the record's screen may be drawn: the form saved is not the one shown.
    await go(page, '/chart/allergies/new');
    await expect(page.locator('#field-substance')).toHaveValue('');
    await expect(page.locator('#field-severity')).toHaveValue('');
  }
  await go(page, '/chart/allergies');
  for (const substance of ['Peanuts', 'Penicillin', 'Latex'])
    await expect(page.getByRole('link', { name: new RegExp(substance) })).toHaveCount(1);
});
