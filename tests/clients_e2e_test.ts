// End to end as users run it: `dig` and `kdig` from Debian against the
// proxy started from main.ts, which forwards over TLS to a real Unbound
// serving DNS-over-TLS on loopback. Unbound's own counters prove that the
// queries reached it over TLS and never in plaintext.

import assert from "node:assert/strict";
import { startUnbound } from "./_util/unbound.ts";
import { requireTool } from "./_util/tools.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { dotproxy, forwardingArgs } from "./_util/cli.ts";

async function runTool(command: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, { args, stdin: "null" })
    .output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, `${command} ${args.join(" ")} failed:\n${text}`);
  return text;
}

Deno.test("dig and kdig through the proxy to Unbound over DNS-over-TLS", async (t) => {
  const dig = requireTool("dig");
  const kdig = requireTool("kdig");
  await using unbound = await startUnbound();
  const port = deadPort();
  const proxy = dotproxy([
    ...forwardingArgs(port, unbound.dotPort, unbound.caFile, unbound.tlsName),
    ...["--log-level", "warning"],
  ]).spawn();
  const at = ["@127.0.0.1", "-p", String(port)];
  const digArgs = [...at, "+tries=1", "+timeout=3"];
  try {
    let ready = false;
    for (let i = 0; i < 50 && !ready; i++) { // bounded: Deno starts within seconds
      const probe = await new Deno.Command(dig, {
        args: [...at, "+tries=1", "+timeout=1", "www.e2e.test"],
      })
        .output();
      ready = new TextDecoder().decode(probe.stdout).includes("status: NOERROR");
    }
    assert.ok(ready, "the proxy answers dig");
    const before = await unbound.stats();

    await t.step("dig over UDP", async () => {
      const out = await runTool(dig, [...digArgs, "WwW.e2e.test", "A"]);
      assert.match(out, /status: NOERROR/);
      assert.match(out, /WwW\.e2e\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.10/);
    });

    await t.step("dig over TCP", async () => {
      const out = await runTool(dig, [...digArgs, "+tcp", "www.e2e.test", "AAAA", "+short"]);
      assert.equal(out.trim(), "2001:db8::10");
    });

    await t.step("a large answer is truncated over UDP and dig retries over TCP", async () => {
      const out = await runTool(dig, [...digArgs, "big.e2e.test", "TXT"]);
      assert.match(out, /Truncated, retrying in TCP mode/);
      assert.match(out, /ANSWER: 8,/);
    });

    await t.step("NXDOMAIN comes back with the SOA", async () => {
      const out = await runTool(dig, [...digArgs, "missing.nx.e2e.test", "A"]);
      assert.match(out, /status: NXDOMAIN/);
      assert.match(out, /e2e\.test\.\s+\d+\s+IN\s+SOA/);
    });

    await t.step("the DO bit travels both ways, no EDNS means no OPT", async () => {
      const withDo = await runTool(dig, [...digArgs, "+dnssec", "www.e2e.test"]);
      assert.match(withDo, /EDNS: version: 0, flags: do; udp: 1232/);
      const plain = await runTool(dig, [...digArgs, "+noedns", "www.e2e.test"]);
      assert.doesNotMatch(plain, /OPT PSEUDOSECTION/);
    });

    await t.step("kdig pipelines several queries on one TCP connection", async () => {
      const out = await runTool(kdig, [
        ...at,
        "+tcp",
        "+keepopen",
        "www.e2e.test",
        "A",
        "alias.e2e.test",
        "A",
        "mixed.e2e.test",
        "AAAA",
        "one.u.e2e.test",
        "A",
      ]);
      assert.equal(out.match(/status: NOERROR/g)?.length, 4, out);
      assert.match(out, /alias\.e2e\.test\.\s+\d+\s+IN\s+CNAME\s+www\.e2e\.test\./);
      assert.match(out, /one\.u\.e2e\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1/);
    });

    await t.step("kdig's padding is not echoed to a plaintext client", async () => {
      const out = await runTool(kdig, [...at, "+padding", "www.e2e.test"]);
      assert.match(out, /status: NOERROR/);
      assert.doesNotMatch(out, /PADDING/);
    });

    await t.step("Unbound saw every query over TLS and none in plaintext", async () => {
      const after = await unbound.stats();
      const tls = (after["num.query.tls"] ?? 0) - (before["num.query.tls"] ?? 0);
      const total = (after["total.num.queries"] ?? 0) - (before["total.num.queries"] ?? 0);
      assert.ok(tls >= 5, `TLS queries: ${tls}`); // fewer than asked: repeats come from the cache
      assert.equal(total, tls, "every query reached Unbound over TLS");
    });
  } finally {
    proxy.kill("SIGTERM");
    const { code, stderr } = await proxy.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  }
});
