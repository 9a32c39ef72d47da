// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'data/**',
      'coverage/**',
      '**/dist/**',
      'desktop/dist/**',
      'docs/reference/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-import-type-side-effects': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@hale/*/*',
                '!@hale/sync-server/testing',
                '!@hale/crypto/node',
                '!@hale/client/node',
                '!@hale/client/advanced',
                '!@hale/client/testing',
                '!@hale/release/node',
              ],
              message: 'Import packages only through their exports map.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: [
      'packages/*/src/**/*.test.ts',
      'packages/*/src/**/*.test-util.ts',
      'packages/*/src/**/*.type-test.ts',
      'packages/platform-node/src/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'fs',
            'path',
            'crypto',
            'net',
            'http',
            'https',
            'os',
            'worker_threads',
            'child_process',
          ].map((name) => ({
            name,
            message: 'packages/* must not import Node APIs; inject platform pieces.',
          })),
          patterns: [
            { group: ['node:*'], message: 'packages/* must not import Node APIs; inject platform pieces.' },
            {
              group: ['electron', 'fastify', 'fastify/*', '@fastify/*', 'better-sqlite3', 'ws'],
              message: 'packages/* must not import platform/server libraries.',
            },
            {
              group: ['@hale/*/*', '!@hale/client/advanced'],
              message: 'Import packages only through their index (exports map).',
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js', '**/*.cjs', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
