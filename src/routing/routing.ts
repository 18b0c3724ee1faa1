/**
 * The proxy's upstreams and routes, built from the configuration and
 * rebuilt on reload: an upstream that stays in the configuration (same
 * label, pins and client certificate: see `upstreamKey`) is kept with its connections, cache of health and measurements;
 * the others are created, or retired once the queries they carry are done.
 *
 * @module
 */

import { type ForwardSpec, upstreamKey, type UpstreamSpec } from "../upstream/upstream_spec.ts";
import type { Upstream } from "../upstream/upstream.ts";
import { UpstreamGroup, type UpstreamPolicy } from "../upstream/upstream_group.ts";
import { Router } from "./router.ts";

/** One `--forward-zone`. */
export interface ForwardZoneConfig {
  readonly zone: string;
  readonly upstreams: readonly ForwardSpec[];
}

/** What routing is built from. */
export interface RoutingConfig {
  readonly upstreams: readonly UpstreamSpec[];
  readonly forwardZones: readonly ForwardZoneConfig[];
  readonly upstreamPolicy: UpstreamPolicy;
  readonly builtinZones: boolean;
}

/** Creates an upstream for a spec. */
export type UpstreamFactory = (spec: ForwardSpec) => Upstream;

/** Upstreams and router, replaced as a whole on reload. */
export class Routing {
  readonly #create: UpstreamFactory;
  #router: Router;
  /** Upstreams in use by {@linkcode upstreamKey}. */
  #upstreams: Map<string, Upstream>;

  /**
   * @param config The configuration.
   * @param create Creates an upstream for a spec.
   */
  constructor(config: RoutingConfig, create: UpstreamFactory) {
    this.#create = create;
    this.#upstreams = new Map();
    this.#router = this.#build(config, new Map());
  }

  /** The current router. */
  get router(): Router {
    return this.#router;
  }

  /** Every upstream in use, default ones first. */
  get upstreams(): Upstream[] {
    return [...this.#upstreams.values()];
  }

  /**
   * Switches to a new configuration. Queries already being forwarded finish
   * on the upstreams they started with.
   *
   * @param config The new configuration.
   * @returns The upstreams no longer used, for the caller to close later.
   */
  apply(config: RoutingConfig): Upstream[] {
    const previous = this.#upstreams;
    this.#upstreams = new Map();
    this.#router = this.#build(config, previous);
    const kept = new Set(this.#upstreams.values());
    return [...previous.values()].filter((upstream) => !kept.has(upstream));
  }

  #build(config: RoutingConfig, previous: Map<string, Upstream>): Router {
    const group = (specs: readonly ForwardSpec[]) =>
      new UpstreamGroup(specs.map((spec) => this.#upstream(spec, previous)), config.upstreamPolicy);
    return new Router({
      defaultGroup: group(config.upstreams),
      forwardZones: config.forwardZones.map((forward) => ({
        zone: forward.zone,
        group: group(forward.upstreams),
      })),
      builtinZones: config.builtinZones,
    });
  }

  #upstream(spec: ForwardSpec, previous: Map<string, Upstream>): Upstream {
    const key = upstreamKey(spec);
    const upstream = this.#upstreams.get(key) ?? previous.get(key) ?? this.#create(spec);
    this.#upstreams.set(key, upstream);
    return upstream;
  }
}
