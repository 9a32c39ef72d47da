// A form sends a record back whole: every field it holds reads as the person's. When another device's edit
// was pulled between the form's read and its save, the form's unchanged fields still hold the old values,
// and writing them would silently undo that edit, with no conflict shown anywhere (the server sees an
// ordinary next revision). Such a save is refused (RECORD_CHANGED); a patch of the changed fields alone
// builds on the pulled edit, as before.
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID } from '@hale/model';
import { OTHER_DEVICE, closeRecordDbs, recordInput, recordRefusal, setupRecords } from './records.test-util';

afterEach(closeRecordDbs);

/** An allergy read into a form, then changed by another device's edit pulled here (reaction: Anaphylaxis). */
const formThenPulledEdit = async () => {
  const { db, records } = await setupRecords();
  const added = await records.add(
    'Allergy',
    recordInput('Allergy', { substance: 'Latex', reaction: 'Rash' }),
  );
  const form = { ...(await records.get<'Allergy'>(added.id))!.record };
  const doc = (await db.records.findOne(added.id).exec())!.toMutableJSON();
  const later = new Date(Date.parse(doc.updatedAt) + 1000).toISOString();
  await db.records.upsert({
    ...doc,
    rv: doc.rv + 1,
    author: OTHER_DEVICE,
    by: EXAMPLE_PATIENT_ID,
    updatedAt: later,
    data: { ...doc.data, reaction: 'Anaphylaxis', updatedAt: later },
  });
  return { records, id: added.id, form };
};

describe('update with a record sent back whole, read before an edit pulled from another device', () => {
  it('is refused RECORD_CHANGED, naming updatedAt; nothing is written, the pulled edit stays', async () => {
    const { records, id, form } = await formThenPulledEdit();
    const refused = await recordRefusal(
      records.update('Allergy', id, { ...form, notes: 'Carries an EpiPen.' }),
    );
    expect([refused.code, refused.field]).toEqual(['RECORD_CHANGED', 'updatedAt']);
    expect(refused.message).toMatch(/Read it again/);
    const stored = (await records.get<'Allergy'>(id))!;
    expect(stored.record.reaction).toBe('Anaphylaxis');
    expect(stored.record.notes).toBe(form.notes);
  });

  it('read again, the same save goes through on top of the pulled edit', async () => {
    const { records, id } = await formThenPulledEdit();
    const again = { ...(await records.get<'Allergy'>(id))!.record };
    const saved = await records.update('Allergy', id, { ...again, notes: 'Carries an EpiPen.' });
    expect([saved.reaction, saved.notes]).toEqual(['Anaphylaxis', 'Carries an EpiPen.']);
  });

  it('a patch of the changed field alone builds on the pulled edit', async () => {
    const { records, id } = await formThenPulledEdit();
    const saved = await records.update('Allergy', id, { notes: 'Carries an EpiPen.' });
    expect([saved.reaction, saved.notes]).toEqual(['Anaphylaxis', 'Carries an EpiPen.']);
  });

  it('a stale whole record that changes nothing the person sees writes nothing and is not refused', async () => {
    const { records, id, form } = await formThenPulledEdit();
    const { reaction: _stale, ...rest } = form;
    const saved = await records.update('Allergy', id, { ...rest, reaction: 'Anaphylaxis' });
    expect(saved.reaction).toBe('Anaphylaxis');
  });
});
