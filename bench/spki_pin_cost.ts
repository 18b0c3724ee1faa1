/**
 * What an SPKI pin check (`src/upstream/spki_pin.ts`) adds to opening an
 * upstream connection: 200 loopback TLS handshakes with the committed test
 * certificate, each followed by `checkPins`, and the medians and 99th
 * percentiles of both. The check runs once per connection, never per query.
 *
 * Usage: deno run -A bench/spki_pin_cost.ts
 *
 * @module
 */

import { checkPins } from "../src/upstream/spki_pin.ts";

const tls = (name: string) =>
  Deno.readTextFileSync(new URL(`../tests/testdata/tls/${name}`, import.meta.url));
const PIN = "jglkVUaEj5oUsufyPzJdKIxjSZ1aS3jfUVjyZ77QGUI="; // of server.pem
const ROUNDS = 200;

const listener = Deno.listenTls({
  hostname: "127.0.0.1",
  port: 0,
  cert: tls("server.pem"),
  key: tls("server.key"),
});
const serving = (async () => {
  for await (const conn of listener) {
    conn.handshake().catch(() => {}).finally(() => setTimeout(() => conn.close(), 50));
  }
})();

const handshakes: number[] = [];
const checks: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const started = performance.now();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const conn = await Deno.startTls(tcp, {
    hostname: "dot.test",
    caCerts: [tls("ca.pem")],
    alpnProtocols: ["dot"],
  });
  await conn.handshake();
  const handshaken = performance.now();
  checkPins(conn, [PIN]);
  checks.push(performance.now() - handshaken);
  handshakes.push(handshaken - started);
  conn.close();
}
listener.close();
await serving;

function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

function quantile(values: number[], q: number): string {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!.toFixed(3);
}
print(`first pin check ${checks[0]!.toFixed(3)} ms (cold); later ones:`);
checks.shift();
print(
  `${ROUNDS} handshakes: median ${quantile(handshakes, 0.5)} ms, p99 ${
    quantile(handshakes, 0.99)
  } ms; pin check: median ${quantile(checks, 0.5)} ms, p99 ${quantile(checks, 0.99)} ms`,
);
