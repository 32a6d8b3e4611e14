// lint as: src/workflows/fixture.ts
// Workflow code: the workflow side of the OpenTelemetry interceptors is sandbox-safe (the SDK bundles it).
export { interceptors } from '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';
