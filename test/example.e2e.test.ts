// Runs the `npm run example` story, so CI proves the documented walkthrough still works end to end.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StoryFailure, runStory } from '../example/story';

const dataDirOf = (lines: string[]): string | undefined =>
  lines.map((l) => /SQLite store in (\S+)/.exec(l)?.[1]).find((d) => d !== undefined);

describe('npm run example', () => {
  it('tells the whole story: join, scoped grant, revocation with purge, nothing after revocation', async () => {
    const lines: string[] = [];
    const summary = await runStory({ log: (l) => lines.push(l), kdf: 'test', absenceWindowMs: 1_000 });

    expect(summary.recoveryKeyGroups).toBeGreaterThan(1);
    expect(lines.join('\n')).toContain('RECOVERY KEY');
    expect(summary.secondDevice).toEqual({ allergies: 1, medications: 1, labResults: 1 });
    expect(summary.providerDuringGrant).toEqual({ allergies: 1, medications: 0, labResults: 0 });
    expect(summary.providerWriteRefused).toBe('NOT_WRITABLE');
    expect(summary.rotated).toEqual([{ stream: `${summary.patientId}/allergy`, epoch: 1 }]);
    expect(summary.providerAccessEndedCode).toBe('CONSENT_REVOKED');
    expect(summary.providerPurged).toBe(1);
    expect(summary.providerAfterRevocation.allergies).toBe(0);
    expect(summary.lateAllergyEpochOnSecondDevice).toBe(1);
    expect(summary.lateAllergyOnProvider).toBe(false);
    // Numbered steps 1…10, in order.
    const numbers = lines.map((l) => /^\n(\d+)\. /.exec(l)?.[1]).filter((n) => n !== undefined);
    expect(numbers).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(lines.join('\n')).toContain('fast TEST parameters');
    const dataDir = dataDirOf(lines);
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
  }, 60_000);

  it('a failed expectation rejects with a StoryFailure naming the step, and still cleans up', async () => {
    const lines: string[] = [];
    // A 1 ms bound cannot be met by the first wait (a device coming online over a real socket).
    const failed = await runStory({ log: (l) => lines.push(l), kdf: 'test', waitMs: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(StoryFailure);
    expect((failed as StoryFailure).code).toBe('STORY_EXPECTATION_FAILED');
    expect((failed as StoryFailure).message).toMatch(/^step \d+: timed out after 1 ms/);
    const dataDir = dataDirOf(lines);
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
  }, 60_000);
});
