import assert from "node:assert/strict";
import { type TableEntry, TcpConnectionTable } from "./tcp_connection_table.ts";

class Entry implements TableEntry {
  idle = true;
  closed = false;
  constructor(readonly table: TcpConnectionTable) {}
  close(): void {
    this.closed = true;
    this.table.remove(this);
  }
}

Deno.test("TcpConnectionTable caps connections per client", () => {
  const table = new TcpConnectionTable({ maxConnections: 100, maxPerClient: 2 });
  const entries = [1, 2, 3].map(() => new Entry(table));
  assert.equal(table.add("a", entries[0]!), null);
  assert.equal(table.add("a", entries[1]!), null);
  assert.equal(table.add("a", entries[2]!), "per-client");
  assert.equal(table.add("b", entries[2]!), null);
  entries[0]!.close();
  assert.equal(table.add("a", new Entry(table)), null);
  assert.equal(table.size, 3);
});

Deno.test("TcpConnectionTable closes the oldest idle connection to admit a new one", () => {
  let evictions = 0;
  const table = new TcpConnectionTable({
    maxConnections: 3,
    maxPerClient: 10,
    onEvict: () => evictions++,
  });
  const [busy, idle1, idle2] = [new Entry(table), new Entry(table), new Entry(table)];
  busy.idle = false;
  for (const entry of [busy, idle1, idle2]) assert.equal(table.add(1, entry), null);
  const newcomer = new Entry(table);
  assert.equal(table.add(2, newcomer), null);
  assert.deepEqual([busy.closed, idle1.closed, idle2.closed], [false, true, false]);
  assert.equal(evictions, 1);
  idle2.idle = false;
  newcomer.idle = false;
  assert.equal(table.add(3, new Entry(table)), "total", "every connection is busy");
  assert.equal(table.size, 3);
});

Deno.test("TcpConnectionTable forgets a connection once, however often it is removed", () => {
  const table = new TcpConnectionTable({ maxConnections: 2, maxPerClient: 1 });
  const entry = new Entry(table);
  table.add("a", entry);
  table.remove(entry);
  table.remove(entry);
  assert.equal(table.size, 0);
  assert.equal(table.add("a", new Entry(table)), null);
});
