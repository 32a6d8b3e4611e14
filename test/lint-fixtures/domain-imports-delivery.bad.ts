// lint as: src/domain/fixture.ts
// The pure core reaching up into the delivery contract: domain/ imports only domain/.
import type { DeliverEventInput } from '../delivery/workflow-contract';

export type Used = DeliverEventInput;
