import assert from "node:assert/strict";
import { LinkedList, type ListNode } from "./linked_list.ts";

class Node implements ListNode<Node> {
  older: Node | null = null;
  newer: Node | null = null;
  constructor(readonly name: string) {}
}

/** The names from the oldest end, checked against the walk from the newest end. */
function names(list: LinkedList<Node>): string[] {
  const forward: string[] = [];
  for (let node = list.oldest; node !== null; node = node.newer) forward.push(node.name);
  const backward: string[] = [];
  for (let node = list.newest; node !== null; node = node.older) backward.push(node.name);
  assert.deepEqual(backward.reverse(), forward);
  return forward;
}

Deno.test("LinkedList.insertAfter() adds at the oldest end, in the middle and at the newest end", () => {
  const list = new LinkedList<Node>();
  const [a, b, c, d] = [new Node("a"), new Node("b"), new Node("c"), new Node("d")];
  list.insertAfter(b, null); // empty list
  assert.deepEqual(names(list), ["b"]);
  list.insertAfter(a, null);
  assert.deepEqual(names(list), ["a", "b"]);
  list.insertAfter(d, b);
  assert.deepEqual(names(list), ["a", "b", "d"]);
  list.insertAfter(c, b);
  assert.deepEqual(names(list), ["a", "b", "c", "d"]);
  list.remove(a);
  list.remove(d);
  assert.deepEqual(names(list), ["b", "c"]);
});
