#!/usr/bin/env node
// Pre-bundles the workflow code at build time, so workers start in milliseconds instead of running webpack on
// every start (and every replica runs byte-identical workflow code). Two bundles of the same workflow code:
// dist/workflow-bundle.js without and dist/workflow-bundle-traced.js with the OpenTelemetry workflow interceptors
// (src/workflows/interceptors.ts); the worker loads the traced one only when tracing is on. The interceptors add
// no commands (only span headers), so a history replays on either.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { bundleWorkflowCode } = require('@temporalio/worker');
const logger = { log() {}, info() {}, warn: console.warn, error: console.error, debug() {}, trace() {} };
const workflowsPath = path.join(root, 'dist', 'src', 'workflows', 'index.js');

for (const [file, workflowInterceptorModules] of [
  ['workflow-bundle.js', []],
  ['workflow-bundle-traced.js', [path.join(root, 'dist', 'src', 'workflows', 'interceptors.js')]],
]) {
  const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules, logger });
  writeFileSync(path.join(root, 'dist', file), code);
  console.log(`[build] workflow bundle: dist/${file} (${Math.round(code.length / 1024)} KiB)`);
}
