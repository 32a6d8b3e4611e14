/**
 * The workflow interceptors bundled with the workflow code (`scripts/bundle-workflows.mjs`, and the worker when it
 * bundles at start): OpenTelemetry spans for the workflow run and each activity it schedules, continuing the trace
 * context the workflow start carries in its headers. The spans leave the sandbox through the worker's `exporter`
 * sink (see `infra/tracing.ts`).
 *
 * Bundled whether tracing is on or off, so the workflow code is the same on every worker and a history replays
 * against the same code; with tracing off the worker's sink drops the spans.
 */
export { interceptors } from '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';
