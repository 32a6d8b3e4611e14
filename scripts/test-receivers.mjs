#!/usr/bin/env node
// Runs the three receiver kits' tests (TypeScript, Python, Go) against the shared vectors, one after another.
// A missing toolchain is a failure, never a skip: the kits exist to prove every language agrees on the vectors.
// Built-ins only.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath } from './lib/tools.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs a command with inherited stdio; true when it exits 0. */
function run(command, args, options = {}) {
  console.log(`\n$ ${[command, ...args].join(' ')}${options.cwd ? `   (in ${path.relative(root, options.cwd)})` : ''}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) {
    console.error(`could not run ${command}: ${result.error.message}`);
    return false;
  }
  return result.status === 0;
}

/** True when the module imports, without printing anything. */
function pythonHas(python, module) {
  return spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

function typescriptSuite() {
  return run(process.execPath, ['--import', 'tsx', '--test', 'receivers/typescript/verify.test.ts']);
}

function pythonSuite() {
  const python = findOnPath('python3');
  if (!python || spawnSync(python, ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.error('Python 3 with pytest is required for the receiver kit tests: apt-get install python3-pytest');
    return false;
  }
  if (!pythonHas(python, 'pytest')) {
    console.log('pytest is not installed; trying once: python3 -m pip install --user pytest');
    run(python, ['-m', 'pip', 'install', '--user', 'pytest']);
    if (!pythonHas(python, 'pytest')) {
      console.error(
        'Python 3 with pytest is required for the receiver kit tests: apt-get install python3-pytest ' +
          '(or python3 -m pip install --user pytest)',
      );
      return false;
    }
  }
  // v1a (ed25519) needs the cryptography package: Python's standard library has no ed25519. Bootstrap installs
  // Debian's python3-cryptography; a python3 of its own (pyenv, venv) may need pip.
  if (!pythonHas(python, 'cryptography')) {
    console.log('cryptography is not installed; trying once: python3 -m pip install --user cryptography');
    run(python, ['-m', 'pip', 'install', '--user', 'cryptography']);
    if (!pythonHas(python, 'cryptography')) {
      console.error(
        'Python 3 with the cryptography package is required for the v1a receiver kit tests: apt-get install ' +
          'python3-cryptography (or python3 -m pip install --user cryptography)',
      );
      return false;
    }
  }
  return run(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'receivers/python']);
}

function goSuite() {
  const go = findOnPath('go');
  if (!go) {
    console.error(
      'Go is required for the receiver kit tests: install Go 1.21 or newer (https://go.dev/dl/ or apt-get install golang-go)',
    );
    return false;
  }
  // The module has no dependencies: forbid the network so a stray import fails here rather than downloading.
  const env = { ...process.env, GOPROXY: 'off', GOTOOLCHAIN: 'local' };
  return run(go, ['test', './...'], { cwd: path.join(root, 'receivers', 'go'), env });
}

const suites = [
  ['typescript', typescriptSuite],
  ['python', pythonSuite],
  ['go', goSuite],
];

const results = suites.map(([name, suite]) => {
  const ok = suite();
  console.log(`receivers/${name}: ${ok ? 'passed' : 'FAILED'}`);
  return ok;
});
const passed = results.filter(Boolean).length;
const failed = results.length - passed;
console.log(`receivers: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
