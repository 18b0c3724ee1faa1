import assert from "node:assert/strict";
import { HedgeClock, type HedgeWaiter } from "./hedge_clock.ts";

class Query implements HedgeWaiter<Query> {
  older: Query | null = null;
  newer: Query | null = null;
  hedgeAt = -1;
  readonly due = Promise.withResolvers<void>();
  constructor(readonly name: string, readonly told: string[]) {}
  hedgeDue(): void {
    this.told.push(this.name);
    this.due.resolve();
  }
}

Deno.test("HedgeClock tells a query added with a shorter delay before earlier queries with longer ones", async () => {
  const clock = new HedgeClock<Query>();
  const told: string[] = [];
  const [slow, slower, fast] = [
    new Query("slow", told),
    new Query("slower", told),
    new Query("fast", told),
  ];
  const now = performance.now();
  clock.add(slow, now + 60);
  clock.add(slower, now + 80);
  // The upstream's delay shrank: this one is due long before the two above.
  clock.add(fast, now + 1);
  await fast.due.promise;
  assert.equal(told[0], "fast");
  await Promise.all([slow.due.promise, slower.due.promise]);
  assert.deepEqual(told, ["fast", "slow", "slower"]);
});

Deno.test("HedgeClock keeps queries in due order and sets its timer again when the first is removed", async () => {
  const clock = new HedgeClock<Query>();
  const told: string[] = [];
  const queries = ["d", "b", "e", "a", "c"].map((name) => new Query(name, told));
  const now = performance.now();
  const offsets: Record<string, number> = { a: 2, b: 4, c: 6, d: 8, e: 10 };
  for (const query of queries) clock.add(query, now + offsets[query.name]!);
  const [d, b, e, a, c] = queries;
  clock.remove(a!);
  clock.remove(e!);
  assert.equal(a!.hedgeAt, -1);
  await Promise.all([b!.due.promise, c!.due.promise, d!.due.promise]);
  assert.deepEqual(told, ["b", "c", "d"]);
});
