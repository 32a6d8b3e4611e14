#!/usr/bin/env node
'use strict';
// `npx wss ...`. In a development checkout (sources and tsx present) it runs the TypeScript sources, so it never
// runs a stale build; in an installed or container image it runs the compiled CLI.
const path = require('node:path');
const fs = require('node:fs');
const source = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
let entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (fs.existsSync(source)) {
  try {
    require.resolve('tsx/cjs');
    require('tsx/cjs');
    entry = source;
  } catch {
    // No tsx (production install): use the build.
  }
}
require(entry).runCli(process.argv.slice(2));
