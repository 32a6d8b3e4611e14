// lint as: src/delivery/fixture.ts
// A contract pulling in the signing module (node:crypto behind it).
import { signRequest } from './signed-request';

export const used = [signRequest];
