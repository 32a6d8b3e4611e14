// lint as: src/activities/fixture.ts
// Activities take value types from domain/ and build and sign through delivery/.
import { signRequest } from '../delivery/signed-request';
import type { DeadLetter } from '../domain/delivery-log';
import type { OperationalEvent } from '../domain/operational-event';

export const used = [signRequest];
export type Used = DeadLetter | OperationalEvent;
