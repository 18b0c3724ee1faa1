/**
 * The chain of trust's DS and DNSKEY queries, sent through the proxy's own
 * resolver (routing, cache, coalescing, upstream failover) with DO=1 and
 * CD=1: cached like any answer, under keys of their own, and not validated
 * again as answers (the chain checks them itself).
 *
 * @module
 */

import { HEADER_LENGTH, RRCLASS } from "../wire/constants.ts";
import { COUNT_OFFSET, FLAG2, FLAG3, writeU16 } from "../wire/header.ts";
import { OPT_HEADER_LENGTH, writeOptHeader } from "../wire/edns.ts";
import { parseMessage } from "../wire/message.ts";
import { cacheKey, keyName } from "../cache/cache_key.ts";
import type { Resolver } from "../cache/resolver.ts";
import type { Router } from "../routing/router.ts";
import type { ChainFetcher } from "./chain_of_trust.ts";
import type { Name } from "./names.ts";

/** Fetches chain records through a resolver. */
export class ResolverChainFetcher implements ChainFetcher {
  readonly #resolver: () => Resolver;
  readonly #router: () => Router;
  readonly #timeoutMs: number;

  /**
   * @param resolver The resolver (a function: it is built after the validator).
   * @param router The current router.
   * @param timeoutMs `--timeout`, the forwarder's deadline after a query's arrival.
   */
  constructor(resolver: () => Resolver, router: () => Router, timeoutMs: number) {
    this.#resolver = resolver;
    this.#router = router;
    this.#timeoutMs = timeoutMs;
  }

  /** See {@linkcode ChainFetcher.fetch}. */
  fetch(name: Name, type: number, deadline: number): Promise<Uint8Array | null> {
    const questionEnd = HEADER_LENGTH + name.length + 4;
    const query = new Uint8Array(questionEnd + OPT_HEADER_LENGTH);
    query[2] = FLAG2.RD;
    query[3] = FLAG3.CD;
    writeU16(query, COUNT_OFFSET.QD, 1);
    writeU16(query, COUNT_OFFSET.AR, 1);
    query.set(name, HEADER_LENGTH);
    writeU16(query, questionEnd - 4, type);
    writeU16(query, questionEnd - 2, RRCLASS.IN);
    writeOptHeader(query, questionEnd, { udpSize: 1232, extendedRcode: 0, dnssecOk: true }, 0);
    const layout = parseMessage(query);
    const key = cacheKey(query, layout);
    const route = this.#router().route(keyName(key));
    if (route.kind !== "forward") return Promise.resolve(null);
    // As if it arrived with the client query: the forwarder's deadline (arrival + --timeout) is
    // then the client's, not a full --timeout of its own for each fetch down the chain.
    const now = performance.now();
    const arrivedAt = Math.min(now, deadline - this.#timeoutMs);
    return new Promise((resolve, reject) => {
      this.#resolver().resolve(query, layout, key, route.group, arrivedAt, {
        resolved: (resolution, error) =>
          error !== undefined ? reject(error) : resolve(resolution?.answer.message ?? null),
      });
    });
  }
}
