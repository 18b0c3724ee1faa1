import assert from "node:assert/strict";
import { DotConnection } from "./dot_connection.ts";
import { exchange } from "./reply_listener.ts";
import { parseUpstreamSpec } from "./upstream_spec.ts";
import { parseMessage } from "../wire/message.ts";
import { buildUpstreamFrame } from "../wire/upstream_query.ts";
import { defaultAnswer, startFakeDotServer } from "../../tests/_util/fake_dot_server.ts";
import { buildQuery, decode } from "../../tests/_util/dns_client.ts";
import { TEST_CA } from "../../tests/_util/proxy_fixture.ts";

Deno.test("one connection keeps 1500 queries pending at once and matches their replies in reverse order", async () => {
  // More queries than the connection's first slot table holds (it starts at
  // 1024 slots and doubles when half full): all wait at the server until the
  // last has arrived, then the replies go out newest first.
  const count = 1500;
  const held: (() => void)[] = [];
  let allArrived!: () => void;
  const arrived = new Promise<void>((resolve) => allArrived = resolve);
  await using upstream = await startFakeDotServer({
    handler: async (query) => {
      const released = new Promise<void>((resolve) => held.push(resolve));
      if (held.length === count) allArrived();
      await released;
      return defaultAnswer(query);
    },
  });
  const connection = await DotConnection.open({
    spec: parseUpstreamSpec(`127.0.0.1:${upstream.port}#dot.test`),
    caCerts: [TEST_CA],
    connectTimeoutMs: 2000,
    idleTimeoutMs: 30_000,
  });
  try {
    const names = Array.from({ length: count }, (_, i) => `q${i}.example.test`);
    const exchanges = names.map((name) => {
      const query = buildQuery(name, "A");
      const layout = parseMessage(query);
      return exchange(connection, buildUpstreamFrame(query, layout), layout, 10_000);
    });
    await arrived;
    assert.equal(connection.inFlight, count);
    for (const release of held.toReversed()) release();
    const replies = await Promise.all(exchanges);
    for (const [i, { reply }] of replies.entries()) {
      assert.equal(decode(reply).questions?.[0]?.name, names[i]);
    }
    const ids = upstream.queries.map((query) => query.id);
    assert.equal(new Set(ids).size, count, "no two pending queries share an ID");
    assert.equal(connection.inFlight, 0);
  } finally {
    connection.close();
    await connection.done;
  }
});
