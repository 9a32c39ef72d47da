// Runs the `npm run example` story and the docs' quickstart, so CI proves the documented code works.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { startServer } from '@hale/sync-server/testing';
import { StoryFailure, runStory } from '../../example/story';
import { quickstart } from '../../example/quickstart';

const root = path.resolve(import.meta.dirname, '../..');

const dataDirOf = (lines: string[]): string | undefined =>
  lines.map((l) => /SQLite store in (\S+)/.exec(l)?.[1]).find((d) => d !== undefined);

describe('npm run example', () => {
  it('tells the whole story: join, scoped grant, revocation with purge, nothing after revocation', async () => {
    const lines: string[] = [];
    const summary = await runStory({ log: (l) => lines.push(l), absenceWindowMs: 1_000 });

    expect(summary.recoveryKeyGroups).toBeGreaterThan(1);
    expect(lines.join('\n')).toContain('RECOVERY KEY');
    // "stores it nowhere": neither the key nor the root it encodes is in the vault or the server's files.
    expect(summary.recoveryKeyFoundIn).toEqual([]);
    // "offline-first, then synced": written with no connection, nothing on the server until it connects.
    expect(summary.offlineWrites).toEqual({ pendingWrites: 3, serverDocs: 0 });
    expect(summary.serverDocsAfterSync).toBe(3);
    expect(summary.plaintextOnServer).toEqual([]);
    expect(summary.secondDevice).toEqual({ allergies: 1, medications: 1, labResults: 1 });
    expect(summary.providerDuringGrant).toEqual({ allergies: 1, medications: 0, labResults: 0 });
    expect(summary.grantScope).toEqual([{ type: 'allergy', access: 'read' }]);
    expect(summary.grantHours).toBe(48);
    expect(summary.providerWriteRefused).toBe('NOT_WRITABLE');
    expect(summary.rotated).toEqual([{ stream: `${summary.patientId}/allergy`, epoch: 1 }]);
    expect(summary.grantStatusAfterRevocation).toBe('revoked');
    expect(summary.providerAccessEndedCode).toBe('CONSENT_REVOKED');
    expect(summary.providerPurged).toBe(1);
    expect(summary.providerAfterRevocation.allergies).toBe(0);
    expect(summary.lateAllergyEpoch).toBe(1);
    expect(summary.lateAllergyOnProvider).toBe(false);
    expect(summary.providerOnlineThroughWatch).toBe(true);
    // Numbered steps 1…10, in order.
    const numbers = lines.map((l) => /^\n(\d+)\. /.exec(l)?.[1]).filter((n) => n !== undefined);
    expect(numbers).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(lines.join('\n')).toContain('scrypt N=2^17 (production parameters');
    const dataDir = dataDirOf(lines);
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
  }, 60_000);

  it('a failed expectation rejects with a StoryFailure naming the step, and still cleans up', async () => {
    const lines: string[] = [];
    // Granting medications too breaks the expectation that the provider sees none.
    const failed = await runStory({
      log: (l) => lines.push(l),
      grantScope: ['allergy', 'medication'],
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(StoryFailure);
    expect((failed as StoryFailure).code).toBe('STORY_EXPECTATION_FAILED');
    expect((failed as StoryFailure).message).toMatch(/^step 7: .*medication/);
    const dataDir = dataDirOf(lines);
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
  }, 60_000);
});

describe('the examples and the guide', () => {
  it('use the public surface only: nothing of @hale/client/advanced or @hale/client/testing', () => {
    const sources = [
      ...readdirSync(path.join(root, 'example'))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => ({ name: `example/${f}`, text: readFileSync(path.join(root, 'example', f), 'utf8') })),
      { name: 'docs/client-api.md', text: readFileSync(path.join(root, 'docs/client-api.md'), 'utf8') },
    ];
    expect(sources.length).toBeGreaterThan(3);
    const deep = sources
      .filter((s) => /from '@hale\/client\/(advanced|testing)'/.test(s.text))
      .map((s) => s.name);
    expect(deep).toEqual([]);
    // Every package they import is a public entry point.
    const imported = new Set(
      sources.flatMap((s) => [...s.text.matchAll(/from '(@hale\/[^']+)'/g)].map((m) => m[1])),
    );
    expect([...imported].filter((p) => p !== undefined && p.split('/').length > 2)).toEqual([]);
  });
});

describe('docs/client-api.md quickstart', () => {
  it('is example/quickstart.ts verbatim', () => {
    const file = readFileSync(path.join(root, 'example/quickstart.ts'), 'utf8');
    const region = /\/\/ #region quickstart\n([\s\S]*?)\/\/ #endregion quickstart/.exec(file)?.[1];
    const doc = readFileSync(path.join(root, 'docs/client-api.md'), 'utf8');
    const block = /## Quickstart[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(region).toBeDefined();
    expect(block).toBe(region);
  });

  it('creates an account, adds an allergy and the server ends up holding it', async () => {
    const t = await startServer({ realClock: true });
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const result = await quickstart(t.url);
      expect(result.pendingWrites).toBe(0);
      const row = t.store.db.prepare('SELECT stream FROM docs WHERE id = ?').get(result.allergyId) as
        { stream: string } | undefined;
      expect(row?.stream).toBe(`${result.accountId}/allergy`);
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toContain('recovery key');
    } finally {
      log.mockRestore();
      await t.stop();
    }
  }, 30_000);
});
