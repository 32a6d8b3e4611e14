// lint as: src/infra/egress/fixture.ts
// A file one folder deeper in infra/ reaching the workflows.
import { deliverEvent } from '../../workflows/deliver-event';

export const used = [deliverEvent];
