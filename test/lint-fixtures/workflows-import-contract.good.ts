// lint as: src/workflows/fixture.ts
// Workflow code: the SDK's workflow package, domain/, delivery/ contracts, activities by type.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/deliver-webhook';
import { DeliveryStatusKey } from '../delivery/search-attributes';
import type { DeliverEventInput } from '../delivery/workflow-contract';
import { truncateError } from '../domain/delivery-outcome';

export const used = [proxyActivities, DeliveryStatusKey, truncateError];
export type Used = Activities | DeliverEventInput;
