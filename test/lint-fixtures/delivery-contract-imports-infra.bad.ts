// lint as: src/delivery/fixture.ts
// A contract depending on plumbing.
import type { Logger } from '../infra/logger';

export type Used = Logger;
