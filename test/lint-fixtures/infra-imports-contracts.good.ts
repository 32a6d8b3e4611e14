// lint as: src/infra/fixture.ts
// Plumbing may use domain/ and the delivery/ contracts, and its own modules.
import { SEARCH_ATTRIBUTE_KEYS } from '../delivery/search-attributes';
import type { DeliverEventInput } from '../delivery/workflow-contract';
import { WssError } from '../domain/errors';
import type { Logger } from './logger';

export const used = [SEARCH_ATTRIBUTE_KEYS, WssError];
export type Used = DeliverEventInput | Logger;
