/**
 * `npm run bench:servers [-- --quick] [bench flags]`: the same benchmark against both Temporal servers, one right
 * after the other, and one table with a column for each:
 *
 *   dev server   the Temporal CLI's dev server on SQLite (scripts/local-stack.mjs), what `npm start` and the tests use
 *   PostgreSQL   the Temporal server built from go.temporal.io/server on PostgreSQL (scripts/temporal-postgres.mjs),
 *                the topology of docker-compose.yml
 *
 * Each run writes its own result files (bench/run.ts); this writes the side-by-side rows to
 * bench/results/<ISO-date>-<mode>-servers.json and latest-<mode>-servers.json. With --merge-only it runs nothing and
 * puts the latest result file of each server (same mode and --label) side by side.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResultRow } from './report';

interface RunResult {
  readonly mode: string;
  readonly date: string;
  readonly machine: Record<string, unknown>;
  readonly rows: readonly ResultRow[];
}

interface ServerRun {
  readonly key: 'dev' | 'postgres';
  readonly title: string;
  readonly wrapper: readonly string[];
}

const root = path.resolve(__dirname, '..');
const RUNS: readonly ServerRun[] = [
  { key: 'dev', title: 'dev server (SQLite)', wrapper: [] },
  { key: 'postgres', title: 'server on PostgreSQL', wrapper: ['scripts/temporal-postgres.mjs', 'run', '--'] },
];

let current: ReturnType<typeof spawn> | undefined;
let stopping = false;

function runBench(server: ServerRun, benchArgs: readonly string[]): Promise<number> {
  const args = [
    ...server.wrapper,
    ...(server.wrapper.length > 0 ? ['node'] : []),
    'scripts/local-stack.mjs',
    'run',
    '--ephemeral',
    '--',
    'node',
    '--import',
    'tsx',
    'bench/run.ts',
    ...benchArgs,
  ];
  console.log(`[servers] ${server.title}: node ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
    current = child;
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.once('error', () => resolve(127));
  });
}

function resultFile(benchArgs: readonly string[], server: ServerRun): string {
  const mode = benchArgs.includes('--quick') ? 'quick' : 'default';
  const labelAt = benchArgs.indexOf('--label');
  const label = labelAt === -1 ? undefined : benchArgs[labelAt + 1];
  const name = [mode, label, server.key === 'postgres' ? 'postgres' : undefined].filter(Boolean).join('-');
  return path.join(root, 'bench', 'results', `latest-${name}.json`);
}

function readResult(file: string, notBefore: number): RunResult {
  const result = JSON.parse(readFileSync(file, 'utf8')) as RunResult;
  if (Date.parse(result.date) < notBefore) throw new Error(`${file} is from an earlier run (${result.date})`);
  return result;
}

function cell(value: number | string | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return 'n/a';
  return Number.isInteger(value)
    ? value.toLocaleString('en-US')
    : value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

interface SideBySide {
  readonly section: string;
  readonly metric: string;
  readonly unit: string;
  readonly dev?: number | string;
  readonly postgres?: number | string;
  readonly ratio?: number;
}

/** A rate in a metric's name, e.g. "@50% (12/s)": the rates differ between servers, the measure does not. */
const RATE = / \((\d+(?:\.\d+)?\/s)\)/;
/** The same as "@12/s". */
const AT_RATE = / @(\d+(?:\.\d+)?\/s)/;

/** The row's key and display name without the rate; its value with the rate it was measured at. */
function normalized(r: ResultRow): { metric: string; value: number | string } {
  const inParens = RATE.exec(r.metric);
  const atRate = inParens ? undefined : AT_RATE.exec(r.metric);
  const match = inParens ?? atRate;
  if (!match?.[1]) return { metric: r.metric, value: r.value };
  return { metric: r.metric.replace(match[0], atRate ? ' @rate' : ''), value: `${cell(r.value)} at ${match[1]}` };
}

/** Rows in the dev server's order, then any row only the PostgreSQL run has; matched by section + metric. */
function sideBySide(dev: readonly ResultRow[], postgres: readonly ResultRow[]): SideBySide[] {
  const key = (r: ResultRow) => `${r.section}\0${normalized(r).metric}`;
  const find = (rows: readonly ResultRow[], k: string) => rows.find((x) => key(x) === k);
  const out: SideBySide[] = [];
  const seen = new Set<string>();
  for (const r of [...dev, ...postgres]) {
    const k = key(r);
    if (seen.has(k)) continue;
    seen.add(k);
    const d = find(dev, k);
    const p = find(postgres, k);
    const ratio =
      typeof d?.value === 'number' && typeof p?.value === 'number' && d.value !== 0
        ? Math.round((p.value / d.value) * 100) / 100
        : undefined;
    out.push({
      section: r.section,
      metric: normalized(r).metric,
      unit: r.unit,
      ...(d !== undefined ? { dev: normalized(d).value } : {}),
      ...(p !== undefined ? { postgres: normalized(p).value } : {}),
      ...(ratio !== undefined && Number.isFinite(ratio) ? { ratio } : {}),
    });
  }
  return out;
}

function formatSideBySide(rows: readonly SideBySide[]): string {
  const header = ['section', 'metric', 'unit', RUNS[0]?.title ?? 'dev', RUNS[1]?.title ?? 'postgres', 'pg ÷ dev'];
  const body = rows.map((r) => [r.section, r.metric, r.unit, cell(r.dev), cell(r.postgres), cell(r.ratio)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i >= 3 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function formatSideBySideMarkdown(rows: readonly SideBySide[]): string {
  const lines = [
    `| section | metric | unit | ${RUNS[0]?.title ?? 'dev'} | ${RUNS[1]?.title ?? 'postgres'} | pg ÷ dev |`,
    '|---|---|---|--:|--:|--:|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.section} | ${r.metric} | ${r.unit} | ${cell(r.dev)} | ${cell(r.postgres)} | ${cell(r.ratio)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // --merge-only: no runs; the table from the latest result file of each server (same mode and label).
  const mergeOnly = argv.includes('--merge-only');
  const benchArgs = argv.filter((a) => a !== '--merge-only');
  const started = Date.now();
  const results: Partial<Record<ServerRun['key'], RunResult>> = {};
  for (const server of RUNS) {
    if (mergeOnly) {
      results[server.key] = readResult(resultFile(benchArgs, server), 0);
      continue;
    }
    if (stopping) return 1;
    const runStarted = Date.now();
    const code = await runBench(server, benchArgs);
    current = undefined;
    if (code !== 0) {
      console.error(`[servers] the run on the ${server.title} failed (exit ${code})`);
      return code;
    }
    results[server.key] = readResult(resultFile(benchArgs, server), runStarted - 1000);
  }
  const dev = results.dev;
  const postgres = results.postgres;
  if (!dev || !postgres) return 1;
  const rows = sideBySide(dev.rows, postgres.rows);
  const out = {
    mode: `${dev.mode}-servers`,
    date: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: dev.machine,
    runs: {
      dev: { date: dev.date, mode: dev.mode, temporal: dev.machine.temporal },
      postgres: { date: postgres.date, mode: postgres.mode, temporal: postgres.machine.temporal },
    },
    rows,
  };
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = out.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  writeFileSync(path.join(dir, `${stamp}-${out.mode}.json`), `${JSON.stringify(out, null, 2)}\n`);
  writeFileSync(path.join(dir, `latest-${out.mode}.json`), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\n${formatSideBySide(rows)}\n`);
  if (process.env.BENCH_MARKDOWN === '1') console.log(`${formatSideBySideMarkdown(rows)}\n`);
  console.log(`[servers] results: bench/results/${stamp}-${out.mode}.json and bench/results/latest-${out.mode}.json`);
  return 0;
}

// A Ctrl-C reaches the running bench from the terminal; SIGTERM is relayed. Either way no further run starts.
process.on('SIGINT', () => {
  stopping = true;
});
process.on('SIGTERM', () => {
  stopping = true;
  current?.kill('SIGTERM');
});

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    console.error('[servers]', err instanceof Error ? err.message : err);
    process.exit(1);
  });
