// Prints the configuration table for the README from the config schema itself: `npm run config:docs`.
// `npm run docs` writes it (and the error tables) into README.md.
import { configTable } from './docs-tables';

console.log(configTable());
