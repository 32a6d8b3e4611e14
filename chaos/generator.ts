import { setTimeout as sleep } from 'node:timers/promises';
import type { World } from './world';

/** One event the generator got accepted: by Redis (XADD answered) or by the API (202). */
export interface PublishedEvent {
  readonly eventId: string;
  readonly tenant: string;
  readonly scenario: string;
  readonly via: 'xadd' | 'api';
  /** The stream entry id Redis gave it; its time part is when Redis accepted the event. */
  readonly entryId: string;
  readonly xaddAt: number;
  /** Publish calls it took (more than one when a fault made a call fail; the id makes a retry idempotent). */
  readonly tries: number;
}

/** A malformed entry the generator XADDs on purpose: it must come out as a stream dead letter with a reason. */
export interface MalformedEntry {
  readonly eventId: string;
  readonly scenario: string;
  readonly entryId: string;
}

/** Guard per event: a publish that cannot get through for this long is an error of the run, not a hang. */
const PUBLISH_GIVE_UP_MS = 300_000;

/**
 * Publishes a known set of events with unique ids at a steady rate, alternating XADD and the API (POST
 * /v1/tenants/{t}/events). A call that fails (Redis paused or restarting, the API killed) is retried with the same
 * event id, as a careful producer does: the service's dedupe on the id keeps a retried publish from becoming two
 * deliveries. The gate lets the nemesis hold publishing (while it restores what a wiped store lost).
 */
export class Generator {
  readonly published: PublishedEvent[] = [];
  readonly malformed: MalformedEntry[] = [];
  readonly failures: string[] = [];
  private gate: Promise<void> = Promise.resolve();
  private openGate: (() => void) | undefined;

  constructor(private readonly world: World) {}

  hold(): void {
    if (this.openGate) return;
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.openGate = undefined;
  }

  /** Publishes `count` events of `scenario` at `perSecond`, plus `malformed` broken entries; resolves when all are in. */
  async run(scenario: string, tenant: string, count: number, perSecond: number, malformed = 2): Promise<void> {
    const started = Date.now();
    const calls: Promise<void>[] = [];
    let broken = 0;
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / perSecond;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      await this.gate;
      const eventId = `${this.world.runTag}.${scenario}.${i}`;
      calls.push(this.publish(scenario, tenant, eventId, i % 2 === 0 ? 'xadd' : 'api', i));
      if (broken < malformed && i === Math.floor((count * (broken + 1)) / (malformed + 1))) {
        broken++;
        calls.push(this.publishMalformed(scenario, tenant, `${this.world.runTag}.${scenario}.bad${i}`));
      }
    }
    await Promise.all(calls);
  }

  /**
   * A burst by XADD only, one by one, that ignores the gate: the nemesis writes it while the steady load is held
   * (the trim scenario needs these entries in the stream, in order).
   */
  async burstUngated(scenario: string, tenant: string, first: number, count: number): Promise<PublishedEvent[]> {
    const out: PublishedEvent[] = [];
    for (let i = first; i < first + count; i++) {
      await this.publish(scenario, tenant, `${this.world.runTag}.${scenario}.${i}`, 'xadd', i, true);
      out.push(this.published[this.published.length - 1] as PublishedEvent);
    }
    return out;
  }

  private async publish(
    scenario: string,
    tenant: string,
    eventId: string,
    via: 'xadd' | 'api',
    n: number,
    ungated = false,
  ): Promise<void> {
    const deadline = Date.now() + PUBLISH_GIVE_UP_MS;
    const data = JSON.stringify({ n, scenario, publishedAt: Date.now() });
    let lastError = '';
    for (let tries = 1; Date.now() < deadline; tries++) {
      if (!ungated) await this.gate;
      try {
        let entryId: string;
        if (via === 'xadd') {
          entryId = (await this.world.producer.xadd(
            this.world.stream,
            '*',
            'tenant',
            tenant,
            'type',
            'chaos.event',
            'id',
            eventId,
            'data',
            data,
          )) as string;
        } else {
          const res = await fetch(`${this.world.apiUrl}/v1/tenants/${tenant}/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${this.world.adminToken}`, 'content-type': 'application/json' },
            body: `{"type":"chaos.event","id":${JSON.stringify(eventId)},"data":${data}}`,
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          if (res.status !== 202) throw new Error(`API answered ${res.status}: ${text.slice(0, 200)}`);
          entryId = (JSON.parse(text) as { streamEntryId: string }).streamEntryId;
        }
        this.published.push({ eventId, tenant, scenario, via, entryId, xaddAt: entryTime(entryId), tries });
        return;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        await sleep(250);
      }
    }
    this.failures.push(
      `${eventId} (${via}) could not be published within ${PUBLISH_GIVE_UP_MS / 1000} s: ${lastError}`,
    );
  }

  private async publishMalformed(scenario: string, tenant: string, eventId: string): Promise<void> {
    const deadline = Date.now() + PUBLISH_GIVE_UP_MS;
    while (Date.now() < deadline) {
      await this.gate;
      try {
        const entryId = (await this.world.producer.xadd(
          this.world.stream,
          '*',
          'tenant',
          tenant,
          'type',
          'chaos.event',
          'id',
          eventId,
          'data',
          '{"not json',
        )) as string;
        this.malformed.push({ eventId, scenario, entryId });
        return;
      } catch {
        await sleep(250);
      }
    }
    this.failures.push(`malformed ${eventId} could not be published`);
  }
}

/** The time part of a stream entry id: when Redis accepted the entry (ms). */
export function entryTime(entryId: string): number {
  return Number(entryId.split('-')[0]);
}
