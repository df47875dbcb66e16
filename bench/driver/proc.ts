// Memory and CPU of a server's whole process tree, read from /proc (Linux). A server is
// often several processes (wrangler: node + esbuild + two workerd; Miniflare: node + workerd),
// so the root process alone would under-count it.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux this runs on (USER_HZ). */
export const CLOCK_TICKS_PER_SECOND = 100;

interface StatLine {
  readonly ppid: number;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
}

function readStat(pid: number): StatLine | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    const fields = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
    // Fields from 3 on: state(3) ppid(4) ... utime(14) stime(15).
    const ppid = Number(fields[1]);
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return { ppid, cpuTicks: utime + stime };
  } catch {
    return null;
  }
}

/** `root` and all its descendants alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    tree.push(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return tree;
}

function rssBytesOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident set size of the whole tree, in bytes (shared pages counted once per process). */
export function treeRssBytes(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) total += rssBytesOf(pid);
  return total;
}

/** CPU time used so far by the processes of the tree alive now, in clock ticks. */
export function treeCpuTicks(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) total += readStat(pid)?.cpuTicks ?? 0;
  return total;
}

/** Per-process view, for the report's notes. */
export function treeSummary(root: number): Array<{ pid: number; name: string; rssBytes: number }> {
  return processTree(root).map((pid) => {
    let name = "?";
    try {
      name = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      // Gone meanwhile.
    }
    return { pid, name, rssBytes: rssBytesOf(pid) };
  });
}

/** Busy ticks of the whole machine so far (all cores; /proc/stat minus idle and iowait). */
export function machineBusyTicks(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [, ...fields] = line.trim().split(/\s+/);
  const ticks = fields.map(Number);
  const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0);
  return total - (ticks[3] ?? 0) - (ticks[4] ?? 0);
}

/** CPU ticks used so far by this process (the load driver). */
export function ownCpuTicks(): number {
  return readStat(process.pid)?.cpuTicks ?? 0;
}

export interface CpuShare {
  /** Percent of the whole machine (100 = every core busy) over the window. */
  readonly serverPercent: number;
  readonly driverPercent: number;
  /** Everything else on the machine: a high value means the numbers are noisy. */
  readonly otherPercent: number;
}

/** Starts measuring who used the CPU; call the returned function at the end of the window. */
export function cpuShareSince(serverPid: number, cores: number): () => CpuShare {
  const started = performance.now();
  const busy = machineBusyTicks();
  const server = treeCpuTicks(serverPid);
  const own = ownCpuTicks();
  return () => {
    const capacity = ((performance.now() - started) / 1000) * CLOCK_TICKS_PER_SECOND * cores;
    const serverTicks = treeCpuTicks(serverPid) - server;
    const driverTicks = ownCpuTicks() - own;
    const otherTicks = Math.max(0, machineBusyTicks() - busy - serverTicks - driverTicks);
    const percent = (ticks: number) => Math.round((ticks / capacity) * 1000) / 10;
    return {
      serverPercent: percent(serverTicks),
      driverPercent: percent(driverTicks),
      otherPercent: percent(otherTicks),
    };
  };
}
