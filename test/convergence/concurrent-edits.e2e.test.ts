// Concurrent edits of the same records from two parties at offsets of 0-50 ms, with real timers (this one
// reproduction uses them; the model-based test injects its delays at the transport): afterwards every
// party holds the server's current version of every record, conflicts flagged alike everywhere, and no
// party raised a false alarm. Variants: two devices of the patient; a third device joining during the
// edits; the patient's device and a clinician with a write grant. HALE_CONVERGENCE_SEEDS sets how many
// seeds each variant runs (2 in the normal suite; 20 for the measure).
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import {
  differences,
  falseAlarms,
  grantAllergyWrite,
  joinAccount,
  newAccount,
  seeded,
  until,
  type Party,
} from './parties';

const SEEDS = Number(process.env['HALE_CONVERGENCE_SEEDS'] ?? 2);
const RECORDS = 200;
/** Records start this far apart; each record's second edit follows its first by 0-50 ms. */
const SPACING_MS = 8;

type Variant = 'two devices' | 'a device joining' | 'a clinician writing';

describe('concurrent edits of one record converge on the server (real timers)', () => {
  const server = useServer({ realClock: true });
  const open: Party[] = [];

  const run = async (variant: Variant, seed: number) => {
    const url = server.t.url;
    const a = await newAccount(url, 'device A');
    open.push(a);
    const second =
      variant === 'a clinician writing'
        ? await newAccount(url, 'clinician', 'provider')
        : await joinAccount(url, 'device B', a.loginName);
    open.push(second);
    if (variant === 'a clinician writing') await grantAllergyWrite(a.session, second.session);
    const patientId = a.session.account.accountId;
    const ids: string[] = [];
    for (let i = 0; i < RECORDS; i++) {
      const r = await a.session.records.add('Allergy', {
        substance: `substance ${i}`,
        severity: 'mild',
        recordedAt: new Date().toISOString(),
        active: true,
      });
      ids.push(r.id);
    }
    await a.session.sync.awaitInSync();
    await until(
      async () => (await second.session.records.query('Allergy', { patientId })).total === RECORDS,
      `${second.name} holds the ${RECORDS} records`,
    );
    const random = seeded(seed);
    let joining: Promise<Party> | undefined;
    const edits = ids.map((id, i) => {
      const offset = Math.floor(random() * 51);
      const [first, later] = random() < 0.5 ? [a, second] : [second, a];
      const at = (ms: number, f: () => Promise<unknown>) =>
        new Promise<void>((resolve, reject) => setTimeout(() => void f().then(() => resolve(), reject), ms));
      if (variant === 'a device joining' && i === RECORDS / 2)
        joining = joinAccount(url, 'device C', a.loginName);
      return Promise.all([
        at(i * SPACING_MS, () =>
          first.session.records.update('Allergy', id, { reaction: `${first.name} ${i}` }),
        ),
        at(i * SPACING_MS + offset, () =>
          later.session.records.update('Allergy', id, { reaction: `${later.name} ${i}` }),
        ),
      ]);
    });
    await Promise.all(edits);
    const parties = [a, second];
    if (joining) {
      const c = await joining;
      open.push(c);
      parties.push(c);
    }
    await Promise.all(parties.map((p) => p.session.sync.awaitInSync()));
    // A party joined at the end reads what the server serves: the reference every copy must equal.
    const reader = await joinAccount(url, 'reader', a.loginName);
    open.push(reader);
    await reader.session.sync.awaitInSync();
    await until(
      async () => (await reader.session.records.query('Allergy', { patientId })).total === RECORDS,
      'the reader holds every record',
    );
    const differ = await differences(server.t, [reader, ...parties], ids);
    const conflicts = (await Promise.all(ids.map((id) => reader.session.records.get(id)))).filter(
      (r) => r?.conflict,
    ).length;
    return { differ, conflicts, alarms: parties.flatMap(falseAlarms) };
  };

  const variants: Variant[] = ['two devices', 'a device joining', 'a clinician writing'];
  for (const variant of variants) {
    for (let seed = 1; seed <= SEEDS; seed++) {
      it(`${variant}, seed ${seed}: 0 of ${RECORDS} records differ, no false alarm`, async () => {
        try {
          const { differ, conflicts, alarms } = await run(variant, seed);
          expect(differ).toEqual([]);
          expect(alarms).toEqual([]);
          // The offsets make most edits meet: conflicts are there to be flagged alike.
          expect(conflicts).toBeGreaterThan(0);
        } finally {
          await Promise.all(open.splice(0).map((p) => p.session.close().catch(() => undefined)));
        }
      }, 120_000);
    }
  }
});
