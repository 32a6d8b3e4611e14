// Local servers (Redis, Temporal, PostgreSQL) run for one command, and this process's signals relayed to that
// command: what scripts/local-stack.mjs and scripts/temporal-postgres.mjs share.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a child process has ended (by exit or by signal). */
export function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Signals a child's whole process group (it was started detached, so it leads one); a gone group is fine. */
export function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Whether this process's group is the foreground group of its controlling terminal: then a SIGINT is a Ctrl-C that
 * the terminal sent to every process of the group, the command included. Linux: /proc/self/stat; elsewhere `ps`.
 */
export function inTerminalForeground() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // pid (comm) state ppid pgrp session tty_nr tpgid ...: comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    try {
      const [pgid, tpgid] = execFileSync('ps', ['-o', 'pgid=,tpgid=', '-p', String(process.pid)], { encoding: 'utf8' })
        .trim()
        .split(/\s+/)
        .map(Number);
      return tpgid > 0 && tpgid === pgid;
    } catch {
      return false;
    }
  }
}

/** The last lines of a log file, or '' when it cannot be read. */
export function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * The servers a runner starts and the one command it runs with them.
 *
 * - Servers start detached, each in a process group of its own, so a Ctrl-C in the terminal reaches the command
 *   only; {@link stopAll} stops them, last started first, after the command has ended.
 * - This process's SIGINT and SIGTERM are relayed to the command once it runs. A SIGINT while this process is the
 *   terminal's foreground group is not relayed: the terminal has signalled the command already. During start-up a
 *   signal is remembered ({@link signalReceived}) and start-up stops at its next check.
 *
 * @param options.log       one line to the runner's log
 * @param options.services  the servers' names for messages ("Redis and Temporal")
 * @param options.stopTimeoutMs how long a server may take to stop before SIGKILL
 * @param options.stopSignal the signal that stops a server gracefully, by name (default SIGTERM)
 */
export function createSupervisor({ log, services, stopTimeoutMs, stopSignal = () => 'SIGTERM' }) {
  const children = [];
  let signalsReceived = 0;
  let signalReceived;
  let commandChild;

  function onSignal(signal) {
    signalsReceived += 1;
    signalReceived ??= signal;
    if (!commandChild) return; // Start-up is under way: it notices signalReceived and stops.
    if (hasExited(commandChild)) return; // Already stopping the servers.
    if (signal === 'SIGINT' && inTerminalForeground()) {
      if (signalsReceived === 1) log(`${signal}: waiting for the command to stop; ${services} stop after it`);
      return; // The terminal signalled the command as well.
    }
    log(
      signalsReceived === 1
        ? `${signal}: relayed; waiting for the command to stop; ${services} stop after it`
        : `${signal} again: relayed (the command exits at once)`,
    );
    commandChild.kill(signal);
  }

  return {
    /** The first signal received, if any. */
    get signalReceived() {
      return signalReceived;
    },

    /** Relays SIGINT and SIGTERM from now on. */
    handleSignals() {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    },

    /** Throws when a signal came during start-up. */
    checkSignals() {
      if (signalReceived) throw new Error(`${signalReceived} during start-up: stopping`);
    },

    /** Starts a server detached, its output appended to `logFile`. */
    startChild(name, cmd, args, logFile, spawnOptions = {}) {
      const out = openSync(logFile, 'a');
      const child = spawn(cmd, args, { stdio: ['ignore', out, out], detached: true, ...spawnOptions });
      closeSync(out);
      const exited = new Promise((resolve) => child.once('exit', () => resolve(true)));
      children.push({ name, child, exited, logFile });
      return child;
    },

    /** The servers started so far: name and log file. */
    started() {
      return children.map(({ name, logFile }) => ({ name, logFile }));
    },

    /** Runs the command with this terminal; resolves to its exit code (127 when it cannot be started). */
    runCommand(command, env) {
      const [cmd, ...args] = command;
      const child = spawn(cmd, args, { stdio: 'inherit', env });
      const code = new Promise((resolve) => {
        child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0)));
        child.once('error', (err) => {
          log(`could not run ${cmd}: ${err.message}`);
          resolve(127);
        });
      });
      commandChild = child;
      return code;
    },

    /** Stops every server, last started first: its graceful signal, then SIGKILL after `stopTimeoutMs`. */
    async stopAll() {
      while (children.length > 0) {
        const { name, child, exited } = children.pop();
        if (hasExited(child)) continue;
        log(`stopping ${name}`);
        signalGroup(child, stopSignal(name));
        // An unref'd timer: once everything has stopped, nothing keeps this process waiting for it.
        const stopped = await Promise.race([exited, sleep(stopTimeoutMs, false, { ref: false })]);
        if (!stopped) {
          log(`${name} did not stop; killing`);
          signalGroup(child, 'SIGKILL');
          await exited;
        }
      }
    },
  };
}

/**
 * Polls `check` every 250 ms until it holds. Stops early when a signal came (`supervisor.checkSignals`) or when
 * `child` has exited.
 */
export async function waitFor(supervisor, what, check, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    supervisor.checkSignals();
    if (child && hasExited(child)) throw new Error(`${what} exited with code ${child.exitCode ?? child.signalCode}`);
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs / 1000}s`);
}
