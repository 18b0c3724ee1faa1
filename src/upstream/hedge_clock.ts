/**
 * One timer for all the queries waiting on an upstream to pass their hedge
 * delay, instead of a timer per query: creating and clearing a timer per
 * query cost about 4 % of the CPU when the connections still did it (see
 * dot_connection.ts). The queries wait in the order of their hedge times,
 * the timer is set for the first, and when it fires every query that is due
 * is told and the timer is set again for the next.
 *
 * A list rather than a heap: the hedge times come in the order the queries
 * are sent as long as the upstream's delay does not shrink, so a new query
 * goes at the end after one comparison, with no allocation. When the learned
 * delay shrinks, a new query is due before the ones still waiting on the old
 * delay and is walked back past them (at most the queries in flight to that
 * upstream, and only until those are answered); when it becomes the first,
 * the timer is set again for it, so it never waits behind a query sent
 * earlier with a longer delay.
 *
 * At a few queries a second this is still a timer per query (set when the
 * list becomes non-empty, cleared when it empties); under load it fires
 * about once per hedge delay, whatever the rate of queries.
 *
 * @module
 */

import { LinkedList, type ListNode } from "../linked_list.ts";

/** A query that waits on a {@linkcode HedgeClock}. */
export interface HedgeWaiter<T> extends ListNode<T> {
  /** When it is due (`performance.now()` milliseconds); -1 while it is not waiting. */
  hedgeAt: number;
  /** Called once when its time has come, after it is taken off the clock. */
  hedgeDue(): void;
}

/**
 * The queries waiting on one upstream for their hedge time, and the one timer for them.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { HedgeClock, type HedgeWaiter } from "./hedge_clock.ts";
 *
 * class Query implements HedgeWaiter<Query> {
 *   older: Query | null = null;
 *   newer: Query | null = null;
 *   hedgeAt = -1;
 *   due = Promise.withResolvers<void>();
 *   hedgeDue(): void {
 *     this.due.resolve();
 *   }
 * }
 * const clock = new HedgeClock<Query>();
 * const [early, answered] = [new Query(), new Query()];
 * clock.add(early, performance.now() + 5);
 * clock.add(answered, performance.now() + 10);
 * clock.remove(answered); // answered before its time
 * await early.due.promise;
 * assert.equal(answered.hedgeAt, -1);
 * ```
 */
export class HedgeClock<T extends HedgeWaiter<T>> {
  readonly #waiting = new LinkedList<T>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Starts waiting.
   *
   * @param waiter A query not waiting yet.
   * @param at When it is due.
   */
  add(waiter: T, at: number): void {
    waiter.hedgeAt = at;
    let after = this.#waiting.newest;
    while (after !== null && after.hedgeAt > at) after = after.older;
    this.#waiting.insertAfter(waiter, after);
    // The first to be due now: the timer is for it (set again if it was set for a later one).
    if (after === null) this.#arm(at);
  }

  /**
   * Stops waiting (the query was answered or failed first); does nothing when it is not waiting.
   *
   * @param waiter The query.
   */
  remove(waiter: T): void {
    if (waiter.hedgeAt < 0) return;
    waiter.hedgeAt = -1;
    this.#waiting.remove(waiter);
    if (this.#waiting.oldest === null) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Tells the queries that are due, then sets the timer for the next one. */
  fire(): void {
    this.#timer = undefined;
    const now = performance.now();
    let waiter = this.#waiting.oldest;
    while (waiter !== null && waiter.hedgeAt <= now) {
      this.#waiting.remove(waiter);
      waiter.hedgeAt = -1;
      waiter.hedgeDue();
      waiter = this.#waiting.oldest;
    }
    if (waiter !== null && this.#timer === undefined) this.#arm(waiter.hedgeAt);
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    // A function and an argument rather than a closure: nothing is allocated per arming.
    this.#timer = setTimeout(fireClock, Math.max(0, at - performance.now()), this);
  }
}

function fireClock(clock: { fire(): void }): void {
  clock.fire();
}
