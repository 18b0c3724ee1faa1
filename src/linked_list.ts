/**
 * A doubly linked list whose links live in its nodes (an intrusive list):
 * the cache's recency order and a connection's queries in the order they
 * were sent. Adding and removing take no allocation and no search, and a
 * node is unlinked in constant time from wherever it is.
 *
 * @module
 */

/** What a node of a {@linkcode LinkedList} carries: its two neighbours. */
export interface ListNode<T> {
  /** The neighbour added before it (null at the oldest end, or when not in a list). */
  older: T | null;
  /** The neighbour added after it (null at the newest end, or when not in a list). */
  newer: T | null;
}

/**
 * Nodes in the order they were appended (or inserted); a node is in at most one list.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LinkedList, type ListNode } from "./linked_list.ts";
 *
 * class Node implements ListNode<Node> {
 *   older: Node | null = null;
 *   newer: Node | null = null;
 *   constructor(readonly name: string) {}
 * }
 * const list = new LinkedList<Node>();
 * const [a, b, c] = [new Node("a"), new Node("b"), new Node("c")];
 * list.append(a);
 * list.append(b);
 * list.append(c);
 * list.remove(b);
 * assert.equal(list.oldest?.name, "a");
 * assert.equal(list.oldest?.newer?.name, "c");
 * ```
 */
export class LinkedList<T extends ListNode<T>> {
  #oldest: T | null = null;
  #newest: T | null = null;

  /** The node appended longest ago; follow `newer` for the others. */
  get oldest(): T | null {
    return this.#oldest;
  }

  /** The node at the newest end; follow `older` for the others. */
  get newest(): T | null {
    return this.#newest;
  }

  /**
   * Adds a node at the newest end.
   *
   * @param node A node in no list.
   */
  append(node: T): void {
    node.older = this.#newest;
    node.newer = null;
    if (this.#newest === null) this.#oldest = node;
    else this.#newest.newer = node;
    this.#newest = node;
  }

  /**
   * Adds a node just after another one, for lists kept in an order of their own.
   *
   * @param node A node in no list.
   * @param after A node of this list, or null to add it at the oldest end.
   */
  insertAfter(node: T, after: T | null): void {
    const before = after === null ? this.#oldest : after.newer;
    node.older = after;
    node.newer = before;
    if (after === null) this.#oldest = node;
    else after.newer = node;
    if (before === null) this.#newest = node;
    else before.older = node;
  }

  /**
   * Takes a node out of the list.
   *
   * @param node A node of this list.
   */
  remove(node: T): void {
    if (node.older === null) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === null) this.#newest = node.older;
    else node.newer.older = node.older;
    node.older = node.newer = null;
  }

  /** Forgets every node (their links are left as they are). */
  clear(): void {
    this.#oldest = this.#newest = null;
  }
}
