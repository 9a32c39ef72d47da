/**
 * The app reaches the session only through @hale/react's hooks: the linter refuses `useOpenSession`
 * anywhere but the layout that hands the session to `<HaleProvider>` (eslint.config.js, as `npm run lint`).
 */
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const lint = async (filePath: string, code: string): Promise<string[]> => {
  // The probe is no file of the TypeScript project: the same config, type information off.
  const eslint = new ESLint({
    cwd: new URL('../../..', import.meta.url).pathname,
    overrideConfig: [
      tseslint.configs.disableTypeChecked,
      { languageOptions: { parserOptions: { projectService: false, project: null } } },
    ],
  });
  const [result] = await eslint.lintText(code, { filePath });
  const messages = result?.messages ?? [];
  expect(messages.filter((m) => m.fatal === true)).toEqual([]);
  return messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
};

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
