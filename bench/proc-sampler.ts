import { readFileSync, readdirSync } from 'node:fs';

/** Kernel clock ticks per second (`getconf CLK_TCK`); 100 on every Linux build this runs on. */
const CLK_TCK = 100;

/** One reading of a process: resident memory and the CPU time of all its threads so far. */
export interface ProcReading {
  readonly at: number;
  readonly rssMb: number;
  readonly cpuSeconds: number;
}

/** Reads /proc/<pid>/stat and /proc/<pid>/status; undefined once the process is gone. */
export function readProc(pid: number): ProcReading | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; the fixed fields start after its closing parenthesis (field 3 = state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    return { at: Date.now(), rssMb: rssKb / 1024, cpuSeconds: (utime + stime) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** The pid of the first process whose NUL-separated command line satisfies `match` (largest RSS wins). */
export function findPid(match: (argv: string[]) => boolean): number | undefined {
  let best: { pid: number; rss: number } | undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (argv.length === 0 || !match(argv)) continue;
    const rss = readProc(Number(entry))?.rssMb ?? 0;
    if (!best || rss > best.rss) best = { pid: Number(entry), rss };
  }
  return best?.pid;
}

/**
 * Samples the RSS and CPU time of named processes every `intervalMs`. A name may be re-pointed at a new pid (the
 * drain phase restarts the consumer); its samples then continue under the same name.
 */
export class ProcSampler {
  private readonly pids = new Map<string, number>();
  private readonly samples = new Map<string, ProcReading[]>();
  /** How a name is read when not with {@link readProc} (e.g. a process with its children). */
  private readonly readers = new Map<string, (pid: number) => ProcReading | undefined>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 500) {}

  track(name: string, pid: number | undefined, read?: (pid: number) => ProcReading | undefined): void {
    if (pid === undefined) return;
    this.pids.set(name, pid);
    if (read) this.readers.set(name, read);
    if (!this.samples.has(name)) this.samples.set(name, []);
    this.sampleOnce();
  }

  untrack(name: string): void {
    this.pids.delete(name);
  }

  names(): string[] {
    return [...this.samples.keys()];
  }

  start(): void {
    this.timer ??= setInterval(() => this.sampleOnce(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Current cumulative CPU seconds per tracked process, to diff across a phase. */
  cpuMark(): Map<string, { pid: number; cpuSeconds: number; at: number }> {
    const mark = new Map<string, { pid: number; cpuSeconds: number; at: number }>();
    for (const [name, pid] of this.pids) {
      const reading = this.read(name, pid);
      if (reading) mark.set(name, { pid, cpuSeconds: reading.cpuSeconds, at: reading.at });
    }
    return mark;
  }

  peakRssMb(name: string): number | undefined {
    const list = this.samples.get(name);
    if (!list || list.length === 0) return undefined;
    return Math.max(...list.map((s) => s.rssMb));
  }

  rssBetween(name: string, from: number, to: number): number[] {
    return (this.samples.get(name) ?? []).filter((s) => s.at >= from && s.at <= to).map((s) => s.rssMb);
  }

  private read(name: string, pid: number): ProcReading | undefined {
    return (this.readers.get(name) ?? readProc)(pid);
  }

  private sampleOnce(): void {
    for (const [name, pid] of this.pids) {
      const reading = this.read(name, pid);
      if (reading) this.samples.get(name)?.push(reading);
    }
  }
}

/** CPU use of each process between two marks, in percent of one core. */
export function cpuPercent(
  before: Map<string, { pid: number; cpuSeconds: number; at: number }>,
  after: Map<string, { pid: number; cpuSeconds: number; at: number }>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, end] of after) {
    const start = before.get(name);
    if (!start || start.pid !== end.pid || end.at <= start.at) continue;
    out[name] = Math.round(((end.cpuSeconds - start.cpuSeconds) / ((end.at - start.at) / 1000)) * 100);
  }
  return out;
}

/** CPU seconds each process spent between two marks, per `per` units of work (`count` done in between). */
export function cpuSecondsPer(
  before: Map<string, { pid: number; cpuSeconds: number; at: number }>,
  after: Map<string, { pid: number; cpuSeconds: number; at: number }>,
  count: number,
  per = 1000,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (count <= 0) return out;
  for (const [name, end] of after) {
    const start = before.get(name);
    if (!start || start.pid !== end.pid) continue;
    out[name] = Math.round(((end.cpuSeconds - start.cpuSeconds) / count) * per * 100) / 100;
  }
  return out;
}
