// Rewrites the generated tables of README.md (configuration, error codes) from the code: `npm run docs`.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderReadme } from './docs-tables';

const file = path.join(__dirname, '..', 'README.md');
const before = readFileSync(file, 'utf8');
const after = renderReadme(before);
if (after === before) console.log('README.md is up to date');
else {
  writeFileSync(file, after);
  console.log('README.md updated');
}
