/**
 * Reloading the configuration without a restart (SIGHUP): the `--config` file is read again,
 * with the same flags and variables as at start, and the settings that routing owns (upstreams,
 * forward zones, upstream policy, built-in zones) are applied to the running proxy. The others
 * are bound to sockets, caches or tasks made at start: a change to them is reported and left
 * for the next restart.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import { type Config, SETTINGS } from "./config.ts";
import type { RoutingConfig } from "../routing/routing.ts";
import { getLogger } from "../log.ts";

/** The settings a reload can change: the upstreams and the routes. */
export type ReloadableOptions = Pick<Config, "upstreams"> & Partial<RoutingConfig>;

const log = getLogger("config");

/** The settings a reload applies, as fields of {@linkcode Config}. */
export const RELOADABLE = ["upstreams", "forwardZones", "upstreamPolicy", "builtinZones"] as const;

/** What a new configuration changes compared with the running one. */
export interface ReloadPlan {
  /** Long flags of the reloadable settings that changed, in table order. */
  readonly changed: readonly string[];
  /** Long flags of the settings that changed but need a restart, in table order. */
  readonly needRestart: readonly string[];
  /** The configuration to run with: the running one with the new reloadable settings. */
  readonly config: Config;
}

/**
 * Compares a new configuration with the running one.
 *
 * @example A new upstream applies, a new port waits for a restart
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./config.ts";
 * import { planReload } from "./reload.ts";
 *
 * const load = (args: string[]) => {
 *   const result = parseConfig(args, { env: {}, isTerminal: false });
 *   assert(result.kind === "run");
 *   return result.config;
 * };
 * const running = load(["--port", "53"]);
 * const plan = planReload(running, load(["--port", "5353", "--upstream", "9.9.9.9"]));
 * assert.deepEqual(plan.changed, ["upstream"]);
 * assert.deepEqual(plan.needRestart, ["port"]);
 * assert.equal(plan.config.port, 53);
 * assert.equal(plan.config.upstreams[0]!.label, "9.9.9.9:853");
 * ```
 *
 * @param running The configuration in use.
 * @param next The configuration just read.
 * @returns The changes, and the configuration that applying them gives.
 */
export function planReload(running: Config, next: Config): ReloadPlan {
  const reloadable: readonly string[] = RELOADABLE;
  const changed = new Set<string>();
  const needRestart = new Set<string>();
  const keys = Object.keys(running) as (keyof Config)[];
  for (const key of keys) {
    if (isDeepStrictEqual(running[key], next[key])) continue;
    (reloadable.includes(key) ? changed : needRestart).add(flagOf(key));
  }
  const applied = Object.fromEntries(RELOADABLE.map((key) => [key, next[key]]));
  return {
    changed: [...changed],
    needRestart: [...needRestart],
    config: Object.freeze({ ...running, ...applied }),
  };
}

/** What {@linkcode reloadConfig} works with. */
export interface ReloadTarget {
  /** The `--config` file, or undefined when there is none. */
  readonly configFile: string | undefined;
  /** Reads the configuration again (flags, variables and the file); throws when it is bad. */
  readonly load: () => Config;
  /** Applies new routing settings to the running proxy. */
  readonly reload: (options: ReloadableOptions) => void;
}

/**
 * Reads the configuration again and applies what can change without a restart, logging one
 * line for the outcome (and a warning for changes that need a restart). A bad configuration is
 * rejected as a whole and the running one stays.
 *
 * @param running The configuration in use.
 * @param target The file, how to read the configuration and how to apply it.
 * @returns The configuration in use afterwards.
 */
export function reloadConfig(running: Config, target: ReloadTarget): Config {
  const file = target.configFile;
  if (file === undefined) {
    log.info("Received SIGHUP: no --config file, nothing to reload");
    return running;
  }
  let plan: ReloadPlan;
  try {
    plan = planReload(running, target.load());
  } catch (error) {
    log.error("Reload of {file} rejected, keeping the running configuration: {error}", {
      file,
      error: error instanceof Error ? error.message : String(error),
    });
    return running;
  }
  if (plan.needRestart.length > 0) {
    log.warning("Reload of {file}: {settings} needs a restart; keeping the running values", {
      file,
      settings: plan.needRestart.map((flag) => `--${flag}`).join(", "),
      needRestart: plan.needRestart,
    });
  }
  if (plan.changed.length === 0) {
    log.info("Reloaded {file}: no upstream or zone changed", { file, changed: [] });
    return running;
  }
  try {
    const { upstreams, forwardZones, upstreamPolicy, builtinZones } = plan.config;
    target.reload({ upstreams, forwardZones, upstreamPolicy, builtinZones });
  } catch (error) {
    log.error("Reload of {file} failed, keeping the running configuration: {error}", {
      file,
      error: error instanceof Error ? error.message : String(error),
    });
    return running;
  }
  log.info("Reloaded {file}: {changes}", {
    file,
    changed: plan.changed,
    changes: plan.changed.map((flag) => describe(flag, plan.config)).join("; "),
  });
  return plan.config;
}

/** The long flag of a field of {@linkcode Config}. */
function flagOf(key: keyof Config): string {
  if (key === "caCerts") return "ca-file";
  return (SETTINGS as Record<string, { flag: string }>)[key]?.flag ?? key;
}

/** `flag: new value`, for the log line. */
function describe(flag: string, config: Config): string {
  switch (flag) {
    case "upstream":
      return `upstream ${config.upstreams.map((upstream) => upstream.label).join(", ")}`;
    case "forward-zone": {
      const zones = config.forwardZones.map((forward) =>
        `${forward.zone}=${forward.upstreams.map((upstream) => upstream.label).join(",")}`
      );
      return `forward-zone ${zones.length === 0 ? "(none)" : zones.join(" ")}`;
    }
    case "upstream-policy":
      return `upstream-policy ${config.upstreamPolicy}`;
    default:
      return `builtin-zones ${config.builtinZones}`;
  }
}
