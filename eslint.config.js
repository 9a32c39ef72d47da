// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import clientLayers from './packages/client/layers.json' with { type: 'json' };

/** Node APIs and platform libraries that packages/* must not import (they are injected). */
const NODE_MODULES = [
  'fs',
  'path',
  'crypto',
  'net',
  'http',
  'https',
  'os',
  'worker_threads',
  'child_process',
];
const packageImportRule = (/** @type {object[]} */ extraPatterns) => [
  'error',
  {
    paths: NODE_MODULES.map((name) => ({
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
      ...extraPatterns,
    ],
  },
];
const SOURCE_NOT_TESTS = [
  'packages/*/src/**/*.test.ts',
  'packages/*/src/**/*.test-util.ts',
  'packages/*/src/**/*.type-test.ts',
];
/**
 * The layers of packages/client/src (packages/client/layers.json): a folder imports only folders of lower
 * layers. One block per folder forbids relative imports of its own layer's other folders and of every
 * folder above it.
 */
const clientLayerBlocks = clientLayers.layers.flatMap((layer, index) =>
  layer.map((folder) => {
    const forbidden = clientLayers.layers
      .slice(index)
      .flat()
      .filter((other) => other !== folder);
    return {
      files: [`packages/client/src/${folder}/**/*.ts`],
      ignores: SOURCE_NOT_TESTS,
      rules: {
        'no-restricted-imports': packageImportRule([
          {
            regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
            message: `packages/client/src/${folder} may import only folders of lower layers (packages/client/layers.json).`,
          },
        ]),
      },
    };
  }),
);

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
    ignores: [...SOURCE_NOT_TESTS, 'packages/platform-node/src/**'],
    rules: { 'no-restricted-imports': packageImportRule([]) },
  },
  ...clientLayerBlocks,
  {
    // The app reaches the session through @hale/react's hooks only; the layout hands it to the provider.
    files: ['packages/app/src/**/*.ts', 'packages/app/src/**/*.tsx'],
    ignores: [
      ...SOURCE_NOT_TESTS.map((g) => g.replace('packages/*/', 'packages/app/')),
      'packages/app/src/**/*.test.tsx',
      'packages/app/src/layout/app-layout.tsx',
    ],
    rules: {
      'no-restricted-imports': packageImportRule([
        {
          group: ['**/boot/app-state'],
          importNames: ['useOpenSession'],
          message: 'Reach the session through @hale/react (useHaleSession and the data hooks).',
        },
      ]),
    },
  },
  { files: ['**/*.js', '**/*.cjs', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
