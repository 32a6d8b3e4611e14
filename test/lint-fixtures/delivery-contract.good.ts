// lint as: src/delivery/fixture.ts
// A contract: domain/ types, other contracts, Temporal's sandbox-safe common package.
import { SearchAttributeType } from '@temporalio/common';
import type { EventRef } from '../domain/event';
import { SEARCH_ATTRIBUTE_KEYS } from './search-attributes';
import type { DeliverEventInput } from './workflow-contract';

export const used = [SearchAttributeType, SEARCH_ATTRIBUTE_KEYS];
export type Used = EventRef | DeliverEventInput;
