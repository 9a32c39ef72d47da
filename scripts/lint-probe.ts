/**
 * Lints a probe file's text with the repo's eslint.config.js, as `npm run lint` would, type information
 * off (a probe is no file of the TypeScript project): the messages of no-restricted-imports. For tests
 * that show a lint rule refusing an import.
 */
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

export const restrictedImports = async (filePath: string, code: string): Promise<string[]> => {
  const eslint = new ESLint({
    cwd: new URL('..', import.meta.url).pathname,
    overrideConfig: [
      tseslint.configs.disableTypeChecked,
      { languageOptions: { parserOptions: { projectService: false, project: null } } },
    ],
  });
  const [result] = await eslint.lintText(code, { filePath });
  const messages = result?.messages ?? [];
  const fatal = messages.filter((m) => m.fatal === true);
  if (fatal.length > 0)
    throw new Error(`the probe does not parse: ${fatal.map((m) => m.message).join('; ')}`);
  return messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
};
