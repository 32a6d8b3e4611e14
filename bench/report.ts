/** One line of the results table; the JSON output holds exactly these rows. */
export interface ResultRow {
  readonly section: string;
  readonly metric: string;
  readonly value: number | string;
  readonly unit: string;
  /** The target, as text, when the row is one of the stated targets. */
  readonly target?: string;
  /** Whether the target was met. */
  readonly met?: boolean;
  readonly note?: string;
}

function cell(value: number | string): string {
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return 'n/a';
  return Number.isInteger(value)
    ? value.toLocaleString('en-US')
    : value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** The table as aligned plain text, as printed at the end of a run. */
export function formatTable(rows: readonly ResultRow[]): string {
  const header = ['section', 'metric', 'value', 'unit', 'target', 'met', 'note'];
  const body = rows.map((r) => [
    r.section,
    r.metric,
    cell(r.value),
    r.unit,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The same table in Markdown, for pasting into a report. */
export function formatMarkdown(rows: readonly ResultRow[]): string {
  const lines = ['| section | metric | value | unit | target | met | note |', '|---|---|--:|---|---|---|---|'];
  for (const r of rows) {
    const met = r.met === undefined ? '' : r.met ? 'yes' : '**no**';
    lines.push(
      `| ${r.section} | ${r.metric} | ${cell(r.value)} | ${r.unit} | ${r.target ?? ''} | ${met} | ${r.note ?? ''} |`,
    );
  }
  return lines.join('\n');
}
