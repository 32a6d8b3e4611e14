/**
 * Test events sent from this tab: the endpoint page records each one, and the delivery page waits a moment for the
 * delivery of one just sent to start rather than saying at once that there is none.
 */

/** Event ids of test events sent from this tab, with when: their delivery page waits a moment for them to start. */
export const sentTests = new Map<string, number>();

/** Whether the delivery of `eventId` may still be about to start (a test event sent from this tab moments ago). */
export function mayStillStart(eventId: string): boolean {
  const sentAt = sentTests.get(eventId);
  return sentAt !== undefined && Date.now() - sentAt < 60_000;
}
