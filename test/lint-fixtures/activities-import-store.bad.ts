// lint as: src/activities/fixture.ts
// An activity typed against a store class, even by type only: it must take a port.
import type { DeliveryLogStore } from '../store/delivery-log-store';

export type Used = DeliveryLogStore;
