#!/usr/bin/env node
// Runs node's test runner over every *.test.ts file below the given folders (Node 20's runner has no globs).
//   node scripts/run-tests.mjs [--serial] <dir or file...>
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const serial = args.includes('--serial');
const dirs = args.filter((a) => !a.startsWith('--'));

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

// A folder contributes every test file below it; a file is taken as it is.
const files = dirs.flatMap((d) => (statSync(d).isDirectory() ? collect(d) : [d]));
if (files.length === 0) {
  console.error(`no *.test.ts files under ${dirs.join(', ')}`);
  process.exit(1);
}
const nodeArgs = ['--import', 'tsx', '--test', '--test-reporter=spec'];
if (serial) nodeArgs.push('--test-concurrency=1');
const child = spawn(process.execPath, [...nodeArgs, ...files], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
