// lint as: src/api/fixture.ts
// The API starting deliveries through the consumer's code.
import { EventIngestor } from '../consumer/event-ingestor';

export const used = [EventIngestor];
