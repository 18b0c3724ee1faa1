/**
 * What the resolver gives back: an answer, where it came from and how to
 * present it to the client, and the listener that is told it.
 *
 * @module
 */

import type { Answer, ExtendedError, TtlRewrite } from "../wire/responses.ts";

/** Where an answer came from. */
export type AnswerSource = "upstream" | "cache" | "stale";

/** An answer and how to present it to the client. */
export interface Resolution {
  readonly answer: Answer;
  /** TTL rewrite for cached answers. */
  readonly ttls?: TtlRewrite;
  /** An Extended DNS Error to add (Stale Answer). */
  readonly error?: ExtendedError;
  readonly source: AnswerSource;
  /** The upstream that answered, when one did just now. */
  readonly upstream?: string;
}

/**
 * Told the outcome of `Resolver.resolve` (see resolver.ts), once; it may be
 * told before `resolve` returns (a cache hit).
 */
export interface ResolutionListener {
  /**
   * @param resolution The answer, or null when no upstream answered and nothing stale is left.
   * @param error Set when something broke (a bug).
   */
  resolved(resolution: Resolution | null, error?: unknown): void;
}
