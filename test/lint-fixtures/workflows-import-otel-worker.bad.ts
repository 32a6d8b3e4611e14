// lint as: src/workflows/fixture.ts
// Workflow code importing the worker side of the OpenTelemetry interceptors (activity spans, the exporter sink).
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/worker';

export const used = [makeWorkflowExporter];
