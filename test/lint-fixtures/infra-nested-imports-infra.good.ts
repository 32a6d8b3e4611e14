// lint as: src/infra/egress/fixture.ts
// One folder deeper, infra/ and domain/ are still home.
import type { Config } from '../config';
import { DestinationNotAllowedError } from '../../domain/errors';

export const used = [DestinationNotAllowedError];
export type Used = Config;
