/**
 * Builds the validation layer from the configuration: the built-in root
 * anchors plus the file's (a file anchor for a zone replaces the built-in
 * one of that zone), the negative anchors, the validator, and the resolver
 * hook.
 *
 * @module
 */

import type { Resolver } from "../cache/resolver.ts";
import type { Router } from "../routing/router.ts";
import type { ProxyMetrics } from "../observability/proxy_metrics.ts";
import { DnssecAnswers } from "./answer_validation.ts";
import { nameKey } from "./names.ts";
import { negativeAnchors } from "./negative_anchors.ts";
import { ResolverChainFetcher } from "./resolver_fetcher.ts";
import {
  parseTrustAnchors,
  ROOT_ANCHOR_TEXT,
  type TrustAnchor,
  TrustAnchors,
} from "./trust_anchors.ts";
import { Validator } from "./validator.ts";
import type { WorkLimits } from "./work_budget.ts";

/**
 * The anchors in use: the file's, and the built-in root KSKs unless the
 * file anchors the root itself (a private root); the negative anchors of
 * `--dnssec-insecure`, and the special-use zones while the root is the
 * built-in IANA one (a private root may well sign `test.` or `internal.`).
 *
 * @param fromFile Anchors read from `--trust-anchor-file` ([] without one).
 * @param insecure Zones of `--dnssec-insecure` ([] without any).
 * @returns The anchors.
 */
export function trustAnchors(
  fromFile: readonly TrustAnchor[],
  insecure: readonly string[] = [],
): TrustAnchors {
  const zones = new Set(fromFile.map((anchor) => nameKey(anchor.zone)));
  const builtIn = parseTrustAnchors(ROOT_ANCHOR_TEXT).filter((a) => !zones.has(nameKey(a.zone)));
  const ianaRoot = builtIn.length > 0;
  return new TrustAnchors([...builtIn, ...fromFile], negativeAnchors(insecure, ianaRoot));
}

/** What the validation layer is built from. */
export interface DnssecSetup {
  readonly anchors: readonly TrustAnchor[];
  /** Zones declared insecure (`--dnssec-insecure`). @default {[]} */
  readonly insecure?: readonly string[];
  /** The resolver (built after this layer, hence a function). */
  readonly resolver: () => Resolver;
  readonly router: () => Router;
  readonly metrics: ProxyMetrics;
  readonly limits?: WorkLimits;
  /** `--timeout`: one client query's deadline, the chain's fetches included. */
  readonly timeoutMs: number;
}

/**
 * Builds the resolver hook that validates answers.
 *
 * @param setup Anchors from the file, zones declared insecure, resolver, router, metrics.
 * @returns The hook for `ResolverOptions.check`.
 */
export function createDnssecCheck(setup: DnssecSetup): DnssecAnswers {
  const validator = new Validator({
    anchors: trustAnchors(setup.anchors, setup.insecure),
    fetcher: new ResolverChainFetcher(setup.resolver, setup.router, setup.timeoutMs),
    ...(setup.limits && { limits: setup.limits }),
  });
  return new DnssecAnswers({
    validator,
    router: setup.router,
    metrics: setup.metrics,
    timeoutMs: setup.timeoutMs,
  });
}
