/** Workflow entry module bundled by the worker. Export workflow functions only. */
export { deliverEvent } from './deliver-event';
export { orderedDelivery } from './ordered-delivery';
