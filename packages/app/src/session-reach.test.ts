/**
 * The app reaches the session only through @hale/react's hooks: the linter refuses `useOpenSession`
 * anywhere but the layout that hands the session to `<HaleProvider>` (eslint.config.js, as `npm run lint`).
 */
import { restrictedImports } from '../../../scripts/lint-probe';
import { describe, expect, it } from 'vitest';

const lint = restrictedImports;

describe('how the app reaches the session', () => {
  it('a screen that takes the session from the app state is refused', async () => {
    const refused = await lint(
      'packages/app/src/records/probe-screen.tsx',
      "import { useOpenSession } from '../boot/app-state';\nexport const probe = useOpenSession;\n",
    );
    expect(refused.join('\n')).toMatch(/through @hale\/react/);
  }, 60_000);

  it('a screen that uses the hooks, or the app state for anything else, is not', async () => {
    const code =
      "import { useHaleSession } from '@hale/react';\nimport { useApp } from '../boot/app-state';\n" +
      'export const probe = [useHaleSession, useApp];\n';
    expect(await lint('packages/app/src/records/probe-screen.tsx', code)).toEqual([]);
  }, 60_000);
});
