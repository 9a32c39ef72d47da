import { describe, expect, it } from 'vitest';
import {
  allergyPart,
  isNoKnownAllergy,
  medicationPart,
  problemPart,
  severeOf,
  type Held,
} from './banner-state';

type A = {
  substance: string;
  active: boolean;
  severity?: 'mild' | 'moderate' | 'severe';
  criticality?: 'low' | 'high' | 'unable-to-assess';
  codes?: { system: string; code: string }[];
};
const allergy = (substance: string, more: Partial<A> = {}): A => ({ substance, active: true, ...more });
const nka = allergy('No known allergies', {
  codes: [{ system: 'http://snomed.info/sct', code: '716186003' }],
});
const held = <T>(items: T[], more: Partial<Held<T>> = {}): Held<T> => ({ shared: true, items, ...more });

describe('the safety banner, part by part', () => {
  it('a kind the grant does not share says so, whatever this device holds', () => {
    expect(allergyPart(held([allergy('Penicillin')], { shared: false }))).toEqual({ state: 'not-shared' });
    expect(allergyPart(held<A>([], { shared: false }))).toEqual({ state: 'not-shared' });
    expect(medicationPart(held([{ name: 'Metformin', active: true }], { shared: false }))).toEqual({
      state: 'not-shared',
    });
    expect(problemPart(held<{ name: string; clinicalStatus: 'active' }>([], { shared: false }))).toEqual({
      state: 'not-shared',
    });
  });

  it('shared and not yet known in full is loading, not none', () => {
    expect(allergyPart(held<A>([], { loading: true }))).toEqual({ state: 'loading' });
    expect(medicationPart(held<{ name: string; active: boolean }>([], { loading: true }))).toEqual({
      state: 'loading',
    });
    // What has arrived shows while the rest is on its way; a "no known allergies" too.
    expect(allergyPart(held([allergy('Penicillin')], { loading: true }))).toMatchObject({ state: 'list' });
    expect(allergyPart(held([nka], { loading: true }))).toEqual({ state: 'no-known' });
  });

  it('shared with nothing active: none recorded', () => {
    expect(allergyPart(held<A>([]))).toEqual({ state: 'none' });
    expect(allergyPart(held([allergy('Latex', { active: false })]))).toEqual({ state: 'none' });
    expect(medicationPart(held([{ name: 'Amoxicillin', active: false }]))).toEqual({ state: 'none' });
    expect(problemPart(held([{ name: 'Asthma', clinicalStatus: 'resolved' as const }]))).toEqual({
      state: 'none',
    });
  });

  it('no known allergies, when the patient recorded it (SNOMED CT or the IPS code)', () => {
    expect(allergyPart(held([nka]))).toEqual({ state: 'no-known' });
    const ips = allergy('No known allergies', {
      codes: [
        { system: 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips', code: 'no-known-allergies' },
      ],
    });
    expect(isNoKnownAllergy(ips)).toBe(true);
    expect(allergyPart(held([ips]))).toEqual({ state: 'no-known' });
    // Withdrawn, it says nothing.
    expect(allergyPart(held([{ ...nka, active: false }]))).toEqual({ state: 'none' });
  });

  it('a narrower statement or "no information" is neither an allergy nor "no known allergies"', () => {
    const nkda = allergy('No known drug allergy', {
      codes: [{ system: 'http://snomed.info/sct', code: '409137002' }],
    });
    const noInfo = allergy('No information about allergies', {
      codes: [
        { system: 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips', code: 'no-allergy-info' },
      ],
    });
    expect(isNoKnownAllergy(nkda)).toBe(false);
    expect(allergyPart(held([nkda, noInfo]))).toEqual({ state: 'none' });
  });

  it('active allergies are listed most severe first, and outweigh a "no known allergies" beside them', () => {
    const part = allergyPart(
      held([
        allergy('Latex', { severity: 'mild' }),
        nka,
        allergy('Dust'),
        allergy('Penicillin', { severity: 'severe' }),
        allergy('Peanuts', { severity: 'moderate' }),
        allergy('Aspirin', { severity: 'severe', active: false }),
      ]),
    );
    expect(part.state === 'list' && part.items.map((a) => a.substance)).toEqual([
      'Penicillin',
      'Peanuts',
      'Latex',
      'Dust',
    ]);
    expect(severeOf(part).map((a) => a.substance)).toEqual(['Penicillin']);
    expect(severeOf(allergyPart(held([nka])))).toEqual([]);
    // A high criticality (the risk of a serious reaction) is marked like a severe one, and comes first.
    const risky = allergyPart(
      held([allergy('Penicillin', { severity: 'severe' }), allergy('Wasp venom', { criticality: 'high' })]),
    );
    expect(severeOf(risky).map((a) => a.substance)).toEqual(['Wasp venom', 'Penicillin']);
    expect(severeOf(allergyPart(held([allergy('Latex', { criticality: 'low', severity: 'mild' })])))).toEqual(
      [],
    );
  });

  it('active medications and the active problem list', () => {
    const meds = medicationPart(
      held([
        { name: 'Metformin', active: true },
        { name: 'Amoxicillin', active: false },
        { name: 'Atorvastatin', active: true },
      ]),
    );
    expect(meds.state === 'list' && meds.items.map((m) => m.name)).toEqual(['Atorvastatin', 'Metformin']);
    const problems = problemPart(
      held([
        { name: 'Type 2 diabetes', clinicalStatus: 'active' as const },
        { name: 'Asthma', clinicalStatus: 'resolved' as const },
        { name: 'Gout', clinicalStatus: 'active' as const, verificationStatus: 'refuted' as const },
        { name: 'Hypertension', clinicalStatus: 'recurrence' as const },
      ]),
    );
    expect(problems.state === 'list' && problems.items.map((c) => c.name)).toEqual([
      'Hypertension',
      'Type 2 diabetes',
    ]);
  });
});
