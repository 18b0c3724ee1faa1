/**
 * The queries a DNS-over-TLS connection has sent and not yet seen answered:
 * found by ID when a reply comes, walked oldest first by the deadline sweep.
 *
 * An array of slots rather than a Map, on purpose: a long-lived Map that
 * takes and drops an entry per query is rehashed over and over, and each
 * table it leaves behind in the old generation still points at young
 * queries, so the scavenger keeps them (and all they hold) alive and
 * promotes them. Pinned, unique names over UDP, cache off, with the
 * resolver's Map gone too (see `key_table.ts`): promoted bytes per
 * scavenge 0.51 MB -> 0 (`--trace-gc-nvp`; README, "Where the time goes").
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import type { ReplyListener } from "./reply_listener.ts";
import { LinkedList, type ListNode } from "../linked_list.ts";

/** Slots at first; the table doubles when half full, up to one slot per ID. */
const INITIAL_SLOTS = 1024;

/** Number of query IDs. */
export const ID_SPACE = 0x10000;

/** What an abandoned query keeps instead of its bytes. */
const NO_FRAME = new Uint8Array(0);

/** A query sent on the connection and not yet answered. */
export class PendingQuery implements ListNode<PendingQuery> {
  /**
   * The frame as sent, to match the reply against its query (the frame
   * itself rather than a view of the query in it: one object fewer per
   * query); let go when the query is abandoned, since it may share a slab
   * (see `byte_slab.ts`) that late replies would otherwise keep alive.
   */
  frame: Uint8Array;
  /** Set when the query timed out; its ID stays reserved until its late reply or the close. */
  abandoned = false;
  /** Less recently sent waiting neighbour (abandoned queries are not in the list). */
  older: PendingQuery | null = null;
  /** More recently sent waiting neighbour. */
  newer: PendingQuery | null = null;

  /**
   * @param id Its ID on the connection.
   * @param frame The frame as sent.
   * @param layout The layout of the query in the frame.
   * @param sentAt When it was sent (performance.now() milliseconds).
   * @param deadline The attempt's deadline (performance.now() milliseconds).
   * @param listener Told the outcome.
   */
  constructor(
    readonly id: number,
    frame: Uint8Array,
    readonly layout: MessageLayout,
    readonly sentAt: number,
    readonly deadline: number,
    readonly listener: ReplyListener,
  ) {
    this.frame = frame;
  }
}

/** The pending queries of one connection, by ID and in the order they were sent. */
export class PendingQueries {
  /**
   * Each query in the slot `id & #mask`: IDs are handed out in sequence, so
   * a table twice the size of what is pending rarely needs a second probe.
   */
  #slots: (PendingQuery | null)[] = new Array(INITIAL_SLOTS).fill(null);
  #mask = INITIAL_SLOTS - 1;
  /** The waiting (not abandoned) queries, oldest first. */
  readonly #waitingList = new LinkedList<PendingQuery>();
  #waiting = 0;
  #abandoned = 0;
  #nextId = Math.floor(Math.random() * ID_SPACE);

  /** Queries waiting for their reply (abandoned ones not counted). */
  get waiting(): number {
    return this.#waiting;
  }

  /** Queries that timed out and still hold their ID. */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** The longest-waiting query; follow `newer` for the others. */
  get oldest(): PendingQuery | null {
    return this.#waitingList.oldest;
  }

  /**
   * Gives a query a free ID and starts waiting for it.
   *
   * @param frame The frame as sent (its ID is for the caller to set).
   * @param layout The layout of the query in the frame.
   * @param sentAt When it is sent.
   * @param deadline When it times out.
   * @param listener Told the outcome.
   * @returns The pending query, or null when every ID is taken.
   */
  add(
    frame: Uint8Array,
    layout: MessageLayout,
    sentAt: number,
    deadline: number,
    listener: ReplyListener,
  ): PendingQuery | null {
    const taken = this.#waiting + this.#abandoned;
    if (taken === ID_SPACE) return null;
    if (2 * (taken + 1) > this.#slots.length && this.#slots.length < ID_SPACE) this.#grow();
    let id = this.#nextId;
    while (this.#slots[id & this.#mask] !== null) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;
    const pending = new PendingQuery(id, frame, layout, sentAt, deadline, listener);
    this.#slots[id & this.#mask] = pending;
    this.#waitingList.append(pending);
    this.#waiting++;
    return pending;
  }

  /**
   * Takes the query a reply answers off the table, waiting or abandoned.
   *
   * @param id The reply's ID.
   * @returns The query, or undefined when no query has that ID.
   */
  take(id: number): PendingQuery | undefined {
    const pending = this.#slots[id & this.#mask]!;
    if (pending === null || pending.id !== id) return undefined;
    this.#slots[id & this.#mask] = null;
    if (pending.abandoned) {
      this.#abandoned--;
    } else {
      this.#waitingList.remove(pending);
      this.#waiting--;
    }
    return pending;
  }

  /**
   * Stops waiting for a query that timed out; its ID stays reserved so that
   * a late reply cannot match a newer query.
   *
   * @param pending A waiting query.
   */
  abandon(pending: PendingQuery): void {
    pending.abandoned = true;
    pending.frame = NO_FRAME;
    this.#waitingList.remove(pending);
    this.#waiting--;
    this.#abandoned++;
  }

  /**
   * Empties the table (the connection is closing).
   *
   * @returns The queries that were waiting, oldest first.
   */
  clear(): PendingQuery[] {
    const waiting: PendingQuery[] = [];
    for (let pending = this.#waitingList.oldest; pending !== null; pending = pending.newer) {
      waiting.push(pending);
    }
    this.#slots.fill(null);
    this.#waitingList.clear();
    this.#waiting = this.#abandoned = 0;
    return waiting;
  }

  /** Doubles the slot table; IDs apart in the smaller table stay apart in the larger. */
  #grow(): void {
    const slots: (PendingQuery | null)[] = new Array(this.#slots.length * 2).fill(null);
    const mask = slots.length - 1;
    for (const pending of this.#slots) if (pending !== null) slots[pending.id & mask] = pending;
    this.#slots = slots;
    this.#mask = mask;
  }
}
