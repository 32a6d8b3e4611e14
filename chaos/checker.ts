import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../bench/stats';
import type { Generator, PublishedEvent } from './generator';
import type { FaultWindow, World } from './world';

/**
 * The checker, in the style of Jepsen's queue checkers: every event id the generator got accepted ends in exactly
 * one class.
 * - delivered: at least one validly signed request the receiver answered 2xx;
 * - dead-lettered: a dead letter with a reason, through the API (GET /v1/tenants/{t}/dead-letters);
 * - rejected: a malformed entry in the stream's dead-letter stream with a `wss_reason_code` (only the generator's
 *   deliberately broken entries belong here);
 * - destroyed: neither, but the store itself destroyed the event (Redis came back empty, the stream was trimmed),
 *   and the scenario says which events those were: reported apart, never as our loss;
 * - lost: none of the above.
 */

export type Verdict = 'delivered' | 'dead_lettered' | 'rejected' | 'destroyed' | 'lost';

/** An event that waited this long from XADD to its first request, with no fault active, waited in silence. */
export const SILENT_MS = 60_000;
/** The settle wait gives up after this long without any event changing class (a hang guard, not a speed limit). */
const SETTLE_STALL_MS = 240_000;

export interface ScenarioSpec {
  readonly name: string;
  readonly description: string;
  /** The events the store destroyed (decided by the nemesis); undefined when it destroyed nothing. */
  destroyed?: (event: PublishedEvent) => boolean;
  /** What the service said it lost, to compare with what the store destroyed (e.g. the trimmed-entries counter). */
  serviceCounted?: () => Promise<ServiceCount | undefined>;
}

/** A loss the service reported itself, and how many the harness knows it should report. */
export interface ServiceCount {
  readonly what: string;
  readonly count: number;
  readonly expected: number;
}

export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly events: number;
  readonly viaApi: number;
  readonly delivered: number;
  readonly deadLettered: number;
  readonly deadLetterReasons: Record<string, number>;
  readonly rejected: number;
  readonly rejectedExpected: number;
  readonly destroyed: number;
  readonly destroyedCandidates: number;
  readonly serviceCounted?: ServiceCount;
  readonly lost: number;
  readonly lostIds: string[];
  duplicates: number;
  duplicateEvents: { eventId: string; deliveries: number; windows: string[] }[];
  readonly firstAttemptMs: { p50: number; p99: number; max: number; samples: number };
  readonly silent: { eventId: string; waitedMs: number }[];
  readonly recoveryS: number;
  readonly faults: { name: string; startS: number; durationS: number }[];
  readonly publishTriesOver1: number;
  readonly settleS: number;
  readonly problems: string[];
  /** Log lines about lost events (ids grepped in the role logs), for the report. */
  readonly lostEvidence: Record<string, string[]>;
}

interface DeadLetterItem {
  eventId: string;
  reason?: string;
  failedAt: string;
}

async function deadLetters(world: World, tenant: string): Promise<Map<string, DeadLetterItem>> {
  const res = await world.api('GET', `/v1/tenants/${tenant}/dead-letters`);
  if (res.status !== 200) throw new Error(`dead-letter list answered ${res.status}`);
  const items = (res.body as { items: DeadLetterItem[] }).items;
  return new Map(items.map((i) => [i.eventId, i]));
}

/** The stream dead letters (rejected entries) by the producer's `id` field. */
async function rejectedEntries(world: World): Promise<Map<string, string>> {
  const entries = (await world.stores.redis.xrange(world.stores.keys.rejectedEntryStream(), '-', '+')) as [
    string,
    string[],
  ][];
  const out = new Map<string, string>();
  for (const [, fields] of entries) {
    const get = (name: string) => fields[fields.indexOf(name) + 1];
    const id = fields.includes('id') ? get('id') : undefined;
    const code = fields.includes('wss_reason_code') ? get('wss_reason_code') : undefined;
    if (id !== undefined && code) out.set(id, code);
  }
  return out;
}

/**
 * Waits until every event of the scenario has a class (bounded by a no-progress guard), then classifies them.
 */
export async function settleAndCheck(
  world: World,
  gen: Generator,
  spec: ScenarioSpec,
  tenant: string,
  publishedEnd: number,
): Promise<ScenarioResult> {
  const events = gen.published.filter((e) => e.scenario === spec.name);
  const malformed = gen.malformed.filter((m) => m.scenario === spec.name);
  const destroyedCandidate = (e: PublishedEvent) => spec.destroyed?.(e) ?? false;
  let dls = new Map<string, DeadLetterItem>();
  let rejected = new Map<string, string>();
  const problems: string[] = [];
  let lastSettled = -1;
  let lastProgressAt = Date.now();
  const delivered = (e: PublishedEvent) => (world.receiver.events.get(e.eventId)?.delivered.length ?? 0) > 0;
  for (;;) {
    try {
      dls = await deadLetters(world, tenant);
      rejected = await rejectedEntries(world);
    } catch {
      // The API or Redis may still be recovering from the fault; the next round asks again.
    }
    const open = events.filter((e) => !delivered(e) && !dls.has(e.eventId) && !destroyedCandidate(e));
    const openMalformed = malformed.filter((m) => !rejected.has(m.eventId));
    const settled = events.length + malformed.length - open.length - openMalformed.length;
    if (open.length === 0 && openMalformed.length === 0) break;
    if (settled !== lastSettled) {
      lastSettled = settled;
      lastProgressAt = Date.now();
    } else if (Date.now() - lastProgressAt > SETTLE_STALL_MS) {
      problems.push(
        `no progress for ${SETTLE_STALL_MS / 1000} s with ${open.length} events and ${openMalformed.length} malformed entries unsettled`,
      );
      break;
    }
    await sleep(1000);
  }
  // Events the store destroyed may still arrive (a workflow that had started before): give them a short while.
  if (events.some(destroyedCandidate)) await sleep(5000);
  try {
    dls = await deadLetters(world, tenant);
  } catch (err) {
    problems.push(`dead-letter list unavailable at the end: ${String(err)}`);
  }
  const settleS = (Date.now() - publishedEnd) / 1000;

  const verdicts = new Map<string, Verdict>();
  const reasons: Record<string, number> = {};
  for (const e of events) {
    if (delivered(e)) verdicts.set(e.eventId, 'delivered');
    else if (dls.has(e.eventId)) {
      verdicts.set(e.eventId, 'dead_lettered');
      const reason = dls.get(e.eventId)?.reason ?? '(none)';
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      if (reason === '(none)') problems.push(`dead letter of ${e.eventId} has no reason`);
    } else if (destroyedCandidate(e)) verdicts.set(e.eventId, 'destroyed');
    else verdicts.set(e.eventId, 'lost');
  }
  const rejectedCount = malformed.filter((m) => rejected.has(m.eventId)).length;
  if (rejectedCount !== malformed.length) {
    problems.push(`${malformed.length - rejectedCount} malformed entries are not in the stream dead-letter stream`);
  }
  const lostIds = events.filter((e) => verdicts.get(e.eventId) === 'lost').map((e) => e.eventId);

  // XADD → first request at the receiver.
  const waits: { eventId: string; ms: number; from: number; to: number }[] = [];
  for (const e of events) {
    const first = world.receiver.events.get(e.eventId)?.firstRequestAt;
    if (first !== undefined) waits.push({ eventId: e.eventId, ms: first - e.xaddAt, from: e.xaddAt, to: first });
  }
  const ms = waits.map((w) => w.ms);
  const silent = waits
    .filter((w) => w.ms > SILENT_MS && !world.windows.some((f) => overlaps(f, w.from, w.to)))
    .map((w) => ({ eventId: w.eventId, waitedMs: w.ms }));
  for (const s of silent)
    problems.push(`${s.eventId} waited ${Math.round(s.waitedMs / 1000)} s in silence before its first attempt`);

  const windows = world.windows.filter((w) => w.scenario === spec.name);
  const settledAt = (e: PublishedEvent): number | undefined =>
    world.receiver.events.get(e.eventId)?.delivered[0] ??
    (dls.get(e.eventId) ? Date.parse(dls.get(e.eventId)?.failedAt ?? '') : undefined);
  let recoveryMs = 0;
  for (const w of windows) {
    const end = w.end ?? Date.now();
    for (const e of events) {
      if (e.xaddAt > end) continue;
      const at = settledAt(e);
      if (at !== undefined && at > end) recoveryMs = Math.max(recoveryMs, at - end);
    }
  }
  const scenarioStart = Math.min(...events.map((e) => e.xaddAt), Date.now());
  const lostEvidence: Record<string, string[]> = {};
  for (const id of lostIds.slice(0, 10)) {
    lostEvidence[id] = (['api', 'consumer', 'worker'] as const).flatMap((role) =>
      world.roles.grep(role, [id], 10).map((line) => `${role}: ${line}`),
    );
  }
  const counted = spec.serviceCounted ? await spec.serviceCounted() : undefined;
  if (counted && counted.count !== counted.expected) {
    problems.push(`${counted.what} is ${counted.count}; the store destroyed ${counted.expected} pending entries`);
  }
  return {
    name: spec.name,
    description: spec.description,
    events: events.length,
    viaApi: events.filter((e) => e.via === 'api').length,
    delivered: events.filter((e) => verdicts.get(e.eventId) === 'delivered').length,
    deadLettered: events.filter((e) => verdicts.get(e.eventId) === 'dead_lettered').length,
    deadLetterReasons: reasons,
    rejected: rejectedCount,
    rejectedExpected: malformed.length,
    destroyed: events.filter((e) => verdicts.get(e.eventId) === 'destroyed').length,
    destroyedCandidates: events.filter(destroyedCandidate).length,
    ...(counted ? { serviceCounted: counted } : {}),
    lost: lostIds.length,
    lostIds,
    duplicates: 0,
    duplicateEvents: [],
    firstAttemptMs: {
      p50: percentile(ms, 50),
      p99: percentile(ms, 99),
      max: ms.length ? Math.max(...ms) : Number.NaN,
      samples: ms.length,
    },
    silent,
    recoveryS: recoveryMs / 1000,
    faults: windows.map((w) => ({
      name: w.name,
      startS: (w.start - scenarioStart) / 1000,
      durationS: ((w.end ?? Date.now()) - w.start) / 1000,
    })),
    publishTriesOver1: events.filter((e) => e.tries > 1).length,
    settleS,
    problems,
    lostEvidence,
  };
}

function overlaps(w: FaultWindow, from: number, to: number): boolean {
  // A fault's effects outlast it by a little (reconnects, claim idle time): a 30 s margin after its end.
  return w.start <= to && (w.end ?? Date.now()) + 30_000 >= from;
}

/**
 * Counts duplicates at the end of the run (late redeliveries included): every validly signed 2xx of an event after
 * its first is one duplicate, attributed to the fault windows active between the first 2xx (less 2 s) and it.
 */
export function countDuplicates(world: World, results: ScenarioResult[], gen: Generator): void {
  for (const r of results) {
    r.duplicates = 0;
    r.duplicateEvents = [];
    for (const e of gen.published.filter((p) => p.scenario === r.name)) {
      const times = world.receiver.events.get(e.eventId)?.delivered ?? [];
      if (times.length <= 1) continue;
      r.duplicates += times.length - 1;
      const first = times[0] as number;
      const last = times[times.length - 1] as number;
      // Only this scenario's own faults can explain its duplicates: a window of the next scenario that happens to
      // overlap a late duplicate does not.
      const windows = world.windows
        .filter((w) => w.scenario === r.name && w.start <= last && (w.end ?? Date.now()) >= first - 2000)
        .map((w) => `${w.scenario}/${w.name}`);
      r.duplicateEvents.push({ eventId: e.eventId, deliveries: times.length, windows });
    }
  }
}
