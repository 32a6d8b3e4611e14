// Lint rules that enforce the architecture, not just style (ARCHITECTURE.md lists the walls):
// - workflow, domain and delivery-contract code stays deterministic (no Node built-ins, no I/O packages,
//   activities by type only);
// - api/ imports neither consumer/ nor activities/; infra/ imports only domain/ and delivery/ contracts;
//   activities/ take ports, never store/ classes;
// - process.env is read in one place (src/infra/config.ts);
// - promises are awaited or explicitly voided.
// test/unit/lint-walls.test.ts lints a bad and a good fixture per wall (test/lint-fixtures/), so a wall that
// stops holding fails a test.
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
const sandboxPaths = [...nodeBuiltins, ...ioPackages].map((name) => ({
  name,
  message: 'Workflow, domain and delivery-contract code must stay deterministic and free of I/O.',
}));
const sandboxGlobals = [
  { name: 'setTimeout', message: 'Use workflow sleep().' },
  { name: 'process', message: 'No process access in deterministic code.' },
];
// The delivery/ modules that are not contracts: they sign (node:crypto) and start workflows (the Temporal client),
// in the worker, the consumer and the API. Every other file in delivery/ is a sandbox-safe contract.
const deliveryRuntimeFiles = ['src/delivery/signed-request.ts', 'src/delivery/start-delivery.ts'];
const deliveryRuntimeImport = {
  regex: '(^|/)delivery/(signed-request|start-delivery)$',
  message: 'Only delivery/ contracts (types, search attributes) are sandbox-safe; this module signs or starts.',
};
// An import that leaves infra/ for anything but domain/ or a delivery/ contract, from `depth` folders deep.
const leavesInfra = (depth) => ({
  regex: `^(\\.\\./){${depth}}(?!domain/|delivery/(?!signed-request$|start-delivery$))`,
  message: 'infra/ is plumbing: it imports only domain/ and delivery/ contracts.',
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.tools/**',
      '.data/**',
      'receivers/**',
      'bench/results/**',
      'chaos/results/**',
      'scripts/**',
      'bin/**',
      'portal/dist/**',
      // Linted by test/unit/lint-walls.test.ts, each as the file it stands for.
      'test/lint-fixtures/**',
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
    files: ['src/infra/config.ts', 'test/**/*.ts', 'bench/**/*.ts', 'chaos/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'chaos/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // The CLI prints whatever JSON the API returns; typing every response shape twice would add nothing.
    files: ['src/cli/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: sandboxPaths,
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
                '**/notifications/*',
                '**/cli/*',
              ],
              message: 'Workflow code may import only domain/ and delivery/ contracts (activities by type).',
            },
            deliveryRuntimeImport,
            {
              // Only its workflow side runs in the sandbox; the root loads the client, worker and plugin parts.
              regex: '^@temporalio/interceptors-opentelemetry(/lib/(client|worker|plugin|index)(/.*)?)?$',
              message: 'Workflow code imports only the workflow side of the OpenTelemetry interceptors (lib/workflow-interceptors).',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...sandboxGlobals],
    },
  },
  {
    files: ['src/delivery/**/*.ts'],
    ignores: deliveryRuntimeFiles,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: sandboxPaths,
          patterns: [
            {
              regex: '^\\.\\./(?!domain/)',
              message: 'A delivery/ contract imports only domain/ and other contracts: the workflow bundle loads it.',
            },
            { ...deliveryRuntimeImport, regex: '^\\./(signed-request|start-delivery)$' },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...sandboxGlobals],
    },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/consumer', '**/consumer/*', '**/activities', '**/activities/*'],
              message:
                'api/ reaches deliveries through delivery/ (startDelivery, signed-request), never consumer/ or activities/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/store', '**/store/*'],
              message:
                'Activities take ports (interfaces; value types from domain/), never store/ classes: the entry points wire the stores in.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/infra/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [leavesInfra(1)] }] },
  },
  {
    files: ['src/infra/*/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [leavesInfra(2)] }] },
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
