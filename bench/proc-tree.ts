import { readFileSync, readdirSync } from 'node:fs';
import type { ProcReading } from './proc-sampler';

/** Kernel clock ticks per second (`getconf CLK_TCK`); 100 on every Linux build this runs on. */
const CLK_TCK = 100;

interface Stat {
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in ticks: its own CPU and that of its exited, reaped children. */
  readonly ticks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fixed fields start after the command name's closing parenthesis (field 3 = state, 4 = ppid).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    return { ppid: Number(fields[1]), ticks };
  } catch {
    return undefined;
  }
}

/** Proportional set size (shared pages split between their users), else RSS; in kB. */
function memoryKb(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const pss = /^Pss:\s+(\d+)\s+kB/m.exec(rollup)?.[1];
    if (pss !== undefined) return Number(pss);
  } catch {
    // Fall back to RSS.
  }
  try {
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * A process and its direct children as one: PostgreSQL's postmaster and its backends (one per connection), which
 * come and go. CPU = everything the live processes used plus what the reaped ones left in the postmaster's
 * cutime/cstime, so it only grows. Memory = the sum of PSS, so the shared buffers count once.
 * Undefined once the parent is gone.
 */
export function readProcTree(pid: number): ProcReading | undefined {
  const parent = readStat(pid);
  if (!parent) return undefined;
  let ticks = parent.ticks;
  let kb = memoryKb(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === pid) continue;
    const child = readStat(Number(entry));
    if (child?.ppid !== pid) continue;
    ticks += child.ticks;
    kb += memoryKb(Number(entry));
  }
  return { at: Date.now(), rssMb: kb / 1024, cpuSeconds: ticks / CLK_TCK };
}
