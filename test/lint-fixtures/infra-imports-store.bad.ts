// lint as: src/infra/fixture.ts
// Plumbing that knows the stores' key names: the old infra <-> store cycle.
import type { RedisKeys } from '../store/redis-keys';

export type Used = RedisKeys;
