// lint as: src/infra/fixture.ts
// Plumbing that builds signed requests: an application module, not a contract.
import { signRequest } from '../delivery/signed-request';

export const used = [signRequest];
