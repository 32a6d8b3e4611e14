// Workflows started by an earlier version of the delivery workflow may still be running when a new version is
// deployed, and the new code replays their histories. Each recorded history (test/workflows/histories/, made by
// record-histories.ts from the version named in the file name) must replay on the code checked out without a
// non-determinism error.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { LOCAL_FIRST_ATTEMPT_PATCH } from '../../src/workflows/deliver-event';
import { createTimeSkippingEnv } from './time-skipping-env';

const HISTORIES = path.join(__dirname, 'histories');
const files = readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.history.bin'))
  .sort();

let workflowBundle: WorkflowBundleWithSourceMap;

before(async () => {
  // Installs the quiet SDK runtime the other workflow tests use; replay itself needs no server.
  await (await createTimeSkippingEnv()).teardown();
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log() {}, info() {}, warn() {}, error: console.error, debug() {}, trace() {} },
  });
});

describe('deliverEvent replays histories recorded by earlier versions', () => {
  it('has histories to replay', () => {
    assert.ok(files.length >= 3, `histories found: ${files.join(', ')}`);
  });

  it('has histories of both shapes: first attempt a regular activity (old), and a local one (new)', () => {
    const shapes = files.map((file) => {
      const history = temporal.api.history.v1.History.decode(readFileSync(path.join(HISTORIES, file)));
      const types = (history.events ?? []).map((e) => temporal.api.enums.v1.EventType[e.eventType ?? 0]);
      const patchedLocal = (history.events ?? []).some((e) =>
        Object.values(e.markerRecordedEventAttributes?.details ?? {}).some((details) =>
          (details.payloads ?? []).some((p) =>
            Buffer.from(p.data ?? [])
              .toString('utf8')
              .includes(LOCAL_FIRST_ATTEMPT_PATCH),
          ),
        ),
      );
      return { file, local: patchedLocal, types: types.length };
    });
    const old = shapes.filter((s) => s.file.startsWith('before-local-first-attempt-'));
    const current = shapes.filter((s) => s.file.startsWith('local-first-attempt-'));
    assert.ok(old.length >= 5 && old.every((s) => !s.local), JSON.stringify(old));
    assert.ok(current.length >= 5 && current.every((s) => s.local), JSON.stringify(current));
  });

  for (const file of files) {
    it(`replays ${file}`, async () => {
      const history = temporal.api.history.v1.History.decode(readFileSync(path.join(HISTORIES, file)));
      // Throws DeterminismViolationError when the code takes another path than the history.
      await Worker.runReplayHistory({ workflowBundle }, history);
    });
  }
});
