// Lint rules that enforce the architecture, not just style:
// - workflow and domain code stays deterministic (no Node built-ins, no I/O packages, activities by type only);
// - process.env is read in one place (src/infra/config.ts);
// - promises are awaited or explicitly voided.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const ioPackages = [
  'ioredis',
  'undici',
  'pino',
  'jsonata',
  '@temporalio/worker',
  '@temporalio/client',
  '@temporalio/activity',
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.tools/**',
      '.data/**',
      'receivers/**',
      'bench/results/**',
      'scripts/**',
      'bin/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through src/infra/config.ts.' },
      ],
    },
  },
  {
    files: ['src/infra/config.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // The CLI prints whatever JSON the API returns; typing every response shape twice would add nothing.
    files: ['src/cli/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, ...ioPackages].map((name) => ({
            name,
            message: 'Workflow and domain code must stay deterministic and free of I/O.',
          })),
          patterns: [
            {
              group: ['**/activities', '**/activities/*'],
              allowTypeImports: true,
              message: 'Import activities with `import type` only.',
            },
            {
              group: [
                '**/infra/*',
                '**/store/*',
                '**/api/*',
                '**/consumer/*',
                '**/main/*',
                '**/security/*',
                '**/transform/*',
              ],
              message: 'Workflow and domain code may import only domain modules.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use workflow sleep().' },
        { name: 'process', message: 'No process access in deterministic code.' },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, ...ioPackages, '@temporalio/workflow', '@temporalio/common'].map((name) => ({
            name,
            message: 'Domain code imports nothing outside src/domain (re2js excepted).',
          })),
          patterns: [{ group: ['../*', '!./*'], message: 'Domain code imports nothing outside src/domain.' }],
        },
      ],
    },
  },
);
