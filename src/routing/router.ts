/**
 * Chooses where a query goes by the zone its name falls in (split DNS): the
 * resolvers of the longest matching forward zone, a local answer for the
 * built-in private zones, or the default upstreams.
 *
 * @module
 */

import type { UpstreamGroup } from "../upstream/upstream_group.ts";
import { BUILTIN_ZONES } from "./local_zones.ts";
import { zoneKey, ZoneTable } from "./zone_table.ts";

/** Where a query goes. */
export type Route =
  | { readonly kind: "local"; readonly zone: string }
  | { readonly kind: "forward"; readonly zone: string; readonly group: UpstreamGroup };

/** One forward zone and the group that serves it. */
export interface ForwardZone {
  /** The zone, e.g. `corp.internal`. */
  readonly zone: string;
  readonly group: UpstreamGroup;
}

/** How to build a router. */
export interface RouterOptions {
  /** Upstreams for names in no forward zone. */
  readonly defaultGroup: UpstreamGroup;
  readonly forwardZones: readonly ForwardZone[];
  /** Answer the built-in private zones locally. */
  readonly builtinZones: boolean;
}

/** Routes queries by zone. */
export class Router {
  /** Upstreams for names in no forward zone. */
  readonly defaultGroup: UpstreamGroup;
  readonly #table = new ZoneTable<Route>();
  readonly #default: Route;

  /** @param options The default group, the forward zones and the built-in zones. */
  constructor(options: RouterOptions) {
    this.defaultGroup = options.defaultGroup;
    this.#default = { kind: "forward", zone: ".", group: options.defaultGroup };
    const explicit = options.forwardZones.map((forward) => zoneKey(forward.zone));
    if (options.builtinZones) {
      for (const zone of BUILTIN_ZONES) {
        // An explicit forward zone at or above a built-in one wins (Kubernetes
        // sends 10.in-addr.arpa to kube-dns).
        const key = zoneKey(zone);
        if (explicit.some((parent) => parent !== "\u0000" && key.endsWith(parent))) continue;
        this.#table.set(zone, { kind: "local", zone });
      }
    }
    for (const forward of options.forwardZones) {
      this.#table.set(forward.zone, { kind: "forward", zone: forward.zone, group: forward.group });
    }
  }

  /**
   * The route of a name.
   *
   * @param name The question's name key (`keyName` of its cache key).
   * @returns Where it goes.
   */
  route(name: string): Route {
    return this.#table.lookup(name) ?? this.#default;
  }
}

/**
 * Which names a change of router sends elsewhere: to other upstreams (the
 * same ones in the same order count as unchanged, whatever the zone or the
 * policy), or between a local answer and an upstream.
 *
 * @param before The router in use until now.
 * @param after The router that replaces it.
 * @returns Whether a name key (`keyName` of a cache key) is routed differently.
 */
export function routeChanged(before: Router, after: Router): (name: string) => boolean {
  return (name) => !sameRoute(before.route(name), after.route(name));
}

function sameRoute(a: Route, b: Route): boolean {
  if (a.kind === "local" || b.kind === "local") return a.kind === b.kind && a.zone === b.zone;
  const [x, y] = [a.group.upstreams, b.group.upstreams];
  return x.length === y.length && x.every((upstream, i) => upstream.label === y[i]!.label);
}
