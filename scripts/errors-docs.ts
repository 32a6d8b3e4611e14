// Prints the README's error-code tables from the error registry (src/domain/errors.ts): `npm run errors:docs`.
// `npm run docs` writes them (and the config table) into README.md.
import { errorTables } from './docs-tables';

console.log(errorTables());
