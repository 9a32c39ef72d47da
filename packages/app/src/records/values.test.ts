import { describe, expect, it } from 'vitest';
import { KINDS } from './kinds';
import { emptyValues, formValue, recordInput, timesOf, valuesFromRecord } from './values';

const profile = KINDS.profile;

describe('form values', () => {
  it('keep a dotted field under its group, as the form reads and writes it, and give it back as typed', () => {
    const empty = emptyValues(profile);
    expect(empty['contact']).toEqual({ phone: '', email: '', address: '' });
    expect(Object.keys(empty).some((k) => k.includes('.'))).toBe(false);
    // What the form holds once a person typed a phone (its setFieldValue('contact.phone', …)).
    const typed = {
      ...empty,
      fullName: 'Chan Tai-Man',
      contact: { phone: '+852 5555 0100', email: '', address: '' },
    };
    expect(recordInput(profile.fields, typed, false)).toMatchObject({
      fullName: 'Chan Tai-Man',
      contact: { phone: '+852 5555 0100' },
    });
  });

  it('open a record with its grouped fields filled, and read a draft kept flat', () => {
    const values = valuesFromRecord(profile, {
      fullName: 'Lee Ming',
      status: 'active',
      contact: { email: 'lee@example.org' },
    });
    expect(formValue(values, 'contact.email')).toBe('lee@example.org');
    expect(formValue(values, 'contact.phone')).toBe('');
    expect(formValue({ 'contact.phone': '123' }, 'contact.phone')).toBe('123');
  });
});

describe('a medication schedule', () => {
  const medication = KINDS.medications;

  it('reads the times as typed, earliest first, and leaves out a schedule with nothing in it', () => {
    const empty = emptyValues(medication);
    expect(recordInput(medication.fields, { ...empty, name: 'Metformin' }, false)).not.toHaveProperty(
      'schedule',
    );
    const typed = {
      ...empty,
      name: 'Metformin',
      schedule: { times: '20:00, 8:00;08.00', food: 'with', asNeeded: false },
    };
    expect(recordInput(medication.fields, typed, false)['schedule']).toEqual({
      times: ['08:00', '20:00'],
      food: 'with',
    });
    // Something not a time stays as typed, for the model to refuse at the field.
    expect(timesOf('8am, 20:00')).toEqual(['20:00', '8am']);
  });

  it('opens a scheduled medication with its times as text', () => {
    const values = valuesFromRecord(medication, {
      name: 'Metformin',
      active: true,
      schedule: { times: ['08:00', '20:00'], asNeeded: true },
    });
    expect(formValue(values, 'schedule.times')).toBe('08:00, 20:00');
    expect(formValue(values, 'schedule.asNeeded')).toBe(true);
  });
});

describe('dates a source gives only to the year or month (#63 item 2)', () => {
  it('an emergency contact’s birth year and period stay a year through the form', () => {
    const contacts = KINDS.contacts;
    const values = valuesFromRecord(contacts, {
      name: 'Ariadne Bor-Jansma',
      relationship: 'Partner',
      phone: '+31 20 123 4567',
      birthDate: '1963',
      period: { start: '1975' },
    });
    expect(formValue(values, 'birthDate')).toBe('1963');
    expect(formValue(values, 'period.start')).toBe('1975');
    expect(formValue(values, 'period.end')).toBe('');
    expect(recordInput(contacts.fields, values, false)).toMatchObject({
      birthDate: '1963',
      period: { start: '1975' },
    });
    // Both ends cleared in an edit: the period goes.
    const cleared = { ...values, period: { start: '', end: '' } };
    expect(recordInput(contacts.fields, cleared, true)).toMatchObject({ period: undefined });
  });

  it('a family history’s recorded date and a document’s day of care are partial dates in their forms', () => {
    const typeOf = (slug: 'family-history' | 'documents', name: string) =>
      KINDS[slug].fields.find((f) => f.name === name)?.type;
    expect(typeOf('family-history', 'recordedAt')).toBe('partialDate');
    expect(typeOf('documents', 'serviceDate')).toBe('partialDate');
    const values = valuesFromRecord(KINDS['family-history'], { condition: 'Asthma', recordedAt: '2011-03' });
    expect(recordInput(KINDS['family-history'].fields, values, false)).toMatchObject({
      recordedAt: '2011-03',
    });
  });
});
