// lint as: src/api/fixture.ts
// The API starts deliveries and dry-runs them through the delivery contract, and reads stores.
import { startDelivery } from '../delivery/start-delivery';
import { RequestBuilder, signRequest } from '../delivery/signed-request';
import type { EndpointStore } from '../store/endpoint-store';

export const used = [startDelivery, RequestBuilder, signRequest];
export type Used = EndpointStore;
