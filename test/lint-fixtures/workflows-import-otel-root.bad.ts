// lint as: src/workflows/fixture.ts
// Workflow code importing the OpenTelemetry interceptors' package root, which loads its client and worker parts.
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

export const used = [OpenTelemetryPlugin];
