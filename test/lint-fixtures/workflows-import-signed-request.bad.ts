// lint as: src/workflows/fixture.ts
// Workflow code importing the delivery module that signs (node:crypto): not a contract.
import { signRequest } from '../delivery/signed-request';

export const used = [signRequest];
