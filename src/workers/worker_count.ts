/**
 * How many workers `--workers` means: `auto` (0) is the number of CPUs the
 * process may use (its affinity, as Deno reports it, capped by a cgroup v2
 * CPU quota), or 1 when UDP sockets with SO_REUSEPORT cannot be made (no
 * `--allow-ffi`).
 *
 * @module
 */

const CPU_MAX = "/sys/fs/cgroup/cpu.max";

/**
 * CPUs the process may use: `navigator.hardwareConcurrency`, capped by the
 * cgroup v2 quota (`cpu.max`, rounded up) when it can be read.
 *
 * @returns At least 1.
 */
export function availableCpus(): number {
  let cpus = navigator.hardwareConcurrency || 1;
  if (Deno.permissions.querySync({ name: "read", path: CPU_MAX }).state !== "granted") return cpus;
  try {
    const [quota, period] = Deno.readTextFileSync(CPU_MAX).trim().split(/\s+/);
    if (quota !== undefined && quota !== "max" && Number(period) > 0) {
      cpus = Math.min(cpus, Math.ceil(Number(quota) / Number(period)));
    }
  } catch {
    // No cgroup v2 file: the affinity alone.
  }
  return Math.max(1, cpus);
}

/**
 * The number of workers to run.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveWorkers } from "./worker_count.ts";
 *
 * assert.equal(resolveWorkers(0, false), 1);
 * assert.equal(resolveWorkers(4, true), 4);
 * assert.throws(() => resolveWorkers(4, false), /--allow-ffi/);
 * ```
 *
 * @param requested `--workers`: 0 for auto, else the number.
 * @param reusePortUdp Whether SO_REUSEPORT UDP sockets can be made (`canReusePortUdp()`).
 * @returns The number of workers (1 means the single loop, no worker thread).
 * @throws {Error} When more than one is asked for and they cannot share the UDP port.
 */
export function resolveWorkers(requested: number, reusePortUdp: boolean): number {
  if (requested === 0) return reusePortUdp ? availableCpus() : 1;
  if (requested > 1 && !reusePortUdp) {
    throw new Error(
      `Cannot run ${requested} workers: sharing the UDP port (SO_REUSEPORT) needs --allow-ffi on Linux`,
    );
  }
  return requested;
}
