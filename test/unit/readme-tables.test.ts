import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { README_SECTIONS, configTable, renderReadme } from '../../scripts/docs-tables';
import { ERROR_CODES, errorCodesOn } from '../../src/domain/errors';
import { configSchema } from '../../src/infra/config';

const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('README generated tables', () => {
  for (const name of Object.keys(README_SECTIONS)) {
    it(`holds the ${name} table exactly as generated (run \`npm run docs\` after a change)`, () => {
      const only = renderReadme(readme);
      const section = (text: string) =>
        text.slice(text.indexOf(`<!-- BEGIN generated:${name} `), text.indexOf(`<!-- END generated:${name} -->`));
      assert.equal(section(readme), section(only));
    });
  }

  it('lists every config variable and every error code', () => {
    for (const variable of Object.keys(configSchema.shape)) assert.ok(configTable().includes(`\`${variable}\``));
    for (const code of [...errorCodesOn('api'), ...errorCodesOn('activity'), ...errorCodesOn('dead_letter')]) {
      assert.ok(readme.includes(`| \`${code}\` |`), code);
    }
    assert.ok(Object.keys(ERROR_CODES).length > 0);
  });

  it('notices a hand edit inside a generated section', () => {
    const edited = readme.replace('| `too_deep` |', '| `too_deeep` |');
    assert.notEqual(edited, readme);
    assert.notEqual(renderReadme(edited), edited);
    assert.equal(renderReadme(edited), readme);
  });

  it('refuses a README whose markers are gone', () => {
    assert.throws(() => renderReadme(readme.replace('<!-- END generated:config -->', '')), /generated:config/);
  });
});
