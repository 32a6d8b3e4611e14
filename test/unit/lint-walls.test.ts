import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

/**
 * The architecture's walls are lint rules (eslint.config.mjs); this keeps them honest. Each fixture in
 * test/lint-fixtures is linted with the project's own config as the file its first line names
 * (`// lint as: src/api/fixture.ts`): a `.bad.ts` fixture holds one import across a wall and must fail on that
 * rule, a `.good.ts` one holds the imports the wall allows and must pass.
 */

const root = path.resolve(__dirname, '../..');
const fixtures = path.join(root, 'test/lint-fixtures');

// The fixtures' imports are judged by their text, not resolved, so no type information is needed; rules that
// need it are off here and run in `npm run lint`.
const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false, project: null } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/switch-exhaustiveness-check': 'off',
    },
  },
});

async function lintAs(file: string): Promise<{ as: string; messages: ESLint.LintResult['messages'] }> {
  const text = readFileSync(path.join(fixtures, file), 'utf8');
  const as = /^\/\/ lint as: (\S+)/.exec(text)?.[1];
  assert.ok(as, `${file} does not start with "// lint as: <path>"`);
  const [result] = await eslint.lintText(text, { filePath: path.join(root, as) });
  assert.ok(result);
  return { as, messages: result.messages };
}

const files = readdirSync(fixtures).sort();

describe('lint walls: each refuses its deliberately bad import', () => {
  const bad = files.filter((f) => f.endsWith('.bad.ts'));
  it('has a bad fixture for every wall', () => {
    for (const wall of ['api-', 'infra-', 'activities-', 'delivery-contract-', 'workflows-', 'domain-']) {
      assert.ok(
        bad.some((f) => f.startsWith(wall)),
        `no bad fixture for ${wall}`,
      );
    }
  });
  for (const file of bad) {
    it(`refuses ${file}`, async () => {
      const { as, messages } = await lintAs(file);
      const errors = messages.filter((m) => m.severity === 2);
      assert.ok(
        errors.length > 0 && errors.every((m) => m.ruleId === 'no-restricted-imports'),
        `${file} as ${as}: expected only no-restricted-imports errors, got ${JSON.stringify(errors)}`,
      );
    });
  }
});

describe('lint walls: each lets through what it allows', () => {
  for (const file of files.filter((f) => f.endsWith('.good.ts'))) {
    it(`passes ${file}`, async () => {
      const { as, messages } = await lintAs(file);
      assert.deepEqual(messages, [], `${file} as ${as}`);
    });
  }
});
