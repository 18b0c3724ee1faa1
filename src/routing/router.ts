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
