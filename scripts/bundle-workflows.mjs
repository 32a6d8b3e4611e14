#!/usr/bin/env node
// Pre-bundles the workflow code at build time, so workers start in milliseconds instead of running webpack on
// every start (and every replica runs byte-identical workflow code).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { bundleWorkflowCode } = require('@temporalio/worker');

const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(root, 'dist', 'src', 'workflows', 'index.js'),
  // Tracing's workflow side, bundled whether tracing is on or off (see src/workflows/interceptors.ts).
  workflowInterceptorModules: [path.join(root, 'dist', 'src', 'workflows', 'interceptors.js')],
  logger: { log() {}, info() {}, warn: console.warn, error: console.error, debug() {}, trace() {} },
});
writeFileSync(path.join(root, 'dist', 'workflow-bundle.js'), code);
console.log(`[build] workflow bundle: dist/workflow-bundle.js (${Math.round(code.length / 1024)} KiB)`);
