/**
 * Settings for split DNS: forward zones, the upstream selection policy and
 * the built-in local zones. Declared here and merged into the settings table
 * of `config.ts`.
 *
 * @module
 */

import type { ForwardZoneConfig } from "../routing/routing.ts";
import { zoneKey } from "../routing/zone_table.ts";
import type { UpstreamPolicy } from "../upstream/upstream_group.ts";
import {
  type ForwardSpec,
  parseForwardSpec,
  UpstreamSpecError,
} from "../upstream/upstream_spec.ts";
import { loadSpecCertificate } from "./client_certificate.ts";
import type { HedgeMode } from "../upstream/hedge_policy.ts";
import {
  boolean,
  ConfigError,
  type Env,
  list,
  nonEmpty,
  oneOf,
  type ParseContext,
  type Parser,
  single,
} from "./setting.ts";

/** Split-DNS settings. */
export interface RoutingSettings {
  /** Zones sent to other resolvers than the default upstreams. */
  readonly forwardZones: readonly ForwardZoneConfig[];
  /** How the upstreams of a group are ordered for each query. */
  readonly upstreamPolicy: UpstreamPolicy;
  /** When a slow upstream's query also goes to the next one (see docs/how-it-works.md). */
  readonly hedge: HedgeMode;
  /** Answer the built-in private zones locally. */
  readonly builtinZones: boolean;
}

/**
 * Parses `ZONE=SPEC[,SPEC...]`, each SPEC a DoT upstream or `udp://IP[:PORT]`.
 *
 * @param raw The value.
 * @param source The flag or variable, for errors.
 * @returns The forward zone.
 */
export const parseForwardZone: Parser<ForwardZoneConfig> = (raw, source, context) => {
  const equals = raw.indexOf("=");
  const zone = equals === -1 ? "" : raw.slice(0, equals).trim();
  if (zone === "" || equals === raw.length - 1) {
    throw new ConfigError(`Invalid ${source} "${raw}": expected ZONE=SPEC[,SPEC...]`);
  }
  try {
    zoneKey(zone);
  } catch (error) {
    throw new ConfigError(`Invalid ${source} "${raw}": ${(error as Error).message}`);
  }
  const upstreams = raw.slice(equals + 1).split(",").map((text) => {
    let spec: ForwardSpec;
    try {
      spec = parseForwardSpec(text.trim());
    } catch (error) {
      if (!(error instanceof UpstreamSpecError)) throw error;
      throw new ConfigError(`Invalid ${source} "${raw}": ${error.message}`);
    }
    return "plaintext" in spec ? spec : loadSpecCertificate(spec, raw, source, context);
  });
  const normalized = zone.endsWith(".") && zone !== "." ? zone.slice(0, -1) : zone;
  return Object.freeze({ zone: normalized.toLowerCase(), upstreams });
};

/** Longest fixed hedge delay accepted, in milliseconds. */
const MAX_HEDGE_MS = 60_000;

/**
 * Parses `--hedge`: `off`, `auto`, or a fixed delay in milliseconds.
 *
 * @param raw The value.
 * @param source The flag or variable, for errors.
 * @returns The mode.
 */
export const parseHedge: Parser<HedgeMode> = (raw, source) => {
  if (raw === "off" || raw === "auto") return raw;
  const ms = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (ms >= 1 && ms <= MAX_HEDGE_MS) return ms;
  throw new ConfigError(
    `Invalid ${source} "${raw}": expected off, auto or a delay in milliseconds from 1 to ${MAX_HEDGE_MS}`,
  );
};

/** `DOTPROXY_FORWARD_ZONES`: zones separated by `;` (their resolvers by `,`). */
function readForwardZones(
  env: Env,
  context: ParseContext,
): readonly ForwardZoneConfig[] | undefined {
  const raw = nonEmpty(env, "DOTPROXY_FORWARD_ZONES");
  if (raw === undefined) return undefined;
  return raw.split(";").filter((item) => item.trim() !== "").map((item) =>
    parseForwardZone(item.trim(), "DOTPROXY_FORWARD_ZONES", context)
  );
}

/** The settings of {@linkcode RoutingSettings}, for the table in `config.ts`. */
export const ROUTING_SETTINGS = {
  forwardZones: list<ForwardZoneConfig>({
    flag: "forward-zone",
    env: [readForwardZones],
    parse: parseForwardZone,
    default: () => [],
  }),
  upstreamPolicy: single<UpstreamPolicy>({
    flag: "upstream-policy",
    env: ["DOTPROXY_UPSTREAM_POLICY"],
    parse: oneOf("fastest", "sequential", "round-robin"),
    default: () => "fastest",
  }),
  hedge: single<HedgeMode>({
    flag: "hedge",
    env: ["DOTPROXY_HEDGE"],
    parse: parseHedge,
    default: () => "auto",
  }),
  builtinZones: single<boolean>({
    flag: "builtin-zones",
    boolean: true,
    env: ["DOTPROXY_BUILTIN_ZONES"],
    parse: boolean,
    default: () => true,
  }),
};
