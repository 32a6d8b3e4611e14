import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ScenarioResult } from './checker';

/** The results table (stdout) and the JSON file under chaos/results/. */

const RESULTS_DIR = path.resolve(__dirname, 'results');

function n(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits).replace(/\.0+$/, '') : 'n/a';
}

/** One row per scenario: the same columns as the README's fault table. */
export function scenarioTable(results: readonly ScenarioResult[]): string[][] {
  return results.map((r) => [
    r.name,
    String(r.events),
    String(r.delivered),
    r.deadLettered > 0
      ? `${r.deadLettered} (${Object.entries(r.deadLetterReasons)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`
      : '0',
    `${r.rejected}/${r.rejectedExpected}`,
    r.destroyedCandidates > 0 || r.destroyed > 0
      ? `${r.destroyed} of ${r.destroyedCandidates}${r.serviceCounted ? `; counted ${r.serviceCounted.count}` : ''}`
      : '—',
    String(r.lost),
    String(r.duplicates),
    n(r.recoveryS),
    `${n(r.firstAttemptMs.p99 / 1000, 2)} / ${n(r.firstAttemptMs.max / 1000, 2)}`,
  ]);
}

export const TABLE_HEADER = [
  'scenario',
  'events',
  'delivered',
  'dead-lettered',
  'rejected',
  'destroyed by the store',
  'lost',
  'dup',
  'recovery s',
  'XADD→1st attempt p99/max s',
];

export function formatPlain(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cols: readonly string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatMarkdownTable(header: readonly string[], rows: readonly string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function machine(): Record<string, unknown> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAvgAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** The README's fault table: one run's results JSON (`npm run docs` regenerates it from chaos/results/latest-full.json). */
export function readmeFaultTable(results: {
  scenarios: ScenarioResult[];
  durationS: number;
  startedAt: string;
  load: { events: number; perSecond: number };
  machine: { cpus: number; cpuModel?: string; node?: string; loadAvgAtEnd?: number[] };
}): string {
  const header = ['Scenario', 'Fault', ...TABLE_HEADER.slice(1)];
  const rows = scenarioTable(results.scenarios).map((row, i) => [
    `\`${row[0]}\``,
    results.scenarios[i]?.description ?? '',
    ...row.slice(1),
  ]);
  const m = results.machine;
  const caption =
    `Run of ${results.startedAt.slice(0, 10)}: ${results.load.events} events per scenario at ${results.load.perSecond}/s, ` +
    `${Math.round(results.durationS / 60)} min in all, on ${m.cpus} vCPUs (${m.cpuModel ?? 'unknown'}), Node ${m.node ?? '?'}, ` +
    `load average ${m.loadAvgAtEnd?.[0] ?? '?'} at the end (a shared machine).`;
  return `${caption}\n\n${formatMarkdownTable(header, rows)}`;
}

/** The README's soak line, from chaos/results/latest-soak.json. */
export function readmeSoakTable(soak: {
  minutes: number;
  summary: {
    events: number;
    delivered: number;
    deadLettered: number;
    lost: number;
    duplicates: number;
    longestRecoveryS: number;
    faults: number;
  };
  memory: Record<string, { firstThirdMb: number; lastThirdMb: number; peakMb: number; trend: number }>;
}): string {
  const s = soak.summary;
  const rows = [
    ['Duration', `${soak.minutes} min (steady load, a random fault every 40-80 s: ${s.faults} faults)`],
    ['Events', String(s.events)],
    ['Delivered / dead-lettered / lost', `${s.delivered} / ${s.deadLettered} / ${s.lost}`],
    ['Duplicates', String(s.duplicates)],
    ['Longest recovery', `${n(s.longestRecoveryS)} s`],
    ...Object.entries(soak.memory).map(([p, m]) => [
      `RSS ${p}`,
      `${m.firstThirdMb} → ${m.lastThirdMb} MB (trend ${m.trend}×, peak ${m.peakMb} MB)`,
    ]),
  ];
  return formatMarkdownTable(['Soak', 'Result'], rows);
}

/** Writes `<date>-<mode>.json` and `latest-<mode>.json`; returns the dated file's path. */
export function writeResults(mode: string, payload: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const file = path.join(RESULTS_DIR, `${stamp}-${mode}.json`);
  const text = `${JSON.stringify(payload, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(path.join(RESULTS_DIR, `latest-${mode}.json`), text);
  return file;
}
