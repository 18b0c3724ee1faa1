import assert from "node:assert/strict";
import { routeChanged, Router } from "./router.ts";
import { UpstreamGroup } from "../upstream/upstream_group.ts";
import type { Upstream } from "../upstream/upstream.ts";
import { zoneKey } from "./zone_table.ts";

/** Only the label matters to routeChanged(). */
const upstream = (label: string) => ({ label }) as unknown as Upstream;
const group = (...labels: string[]) => new UpstreamGroup(labels.map(upstream), "sequential");

Deno.test("routeChanged() picks the names sent to other upstreams or between local and forward", () => {
  const before = new Router({
    defaultGroup: group("public"),
    forwardZones: [{ zone: "same.example", group: group("corp") }],
    builtinZones: true,
  });
  const after = new Router({
    defaultGroup: group("public"),
    forwardZones: [
      { zone: "same.example", group: group("corp") },
      { zone: "corp.internal", group: group("corp") },
      { zone: "alias.example", group: group("public") }, // a new zone, the same upstream
    ],
    builtinZones: false,
  });
  const changed = routeChanged(before, after);
  const names = ["www.example", "a.same.example", "x.alias.example", "intranet.corp.internal"];
  assert.deepEqual(names.map((name) => changed(zoneKey(name))), [false, false, false, true]);
  assert.equal(changed(zoneKey("1.168.192.in-addr.arpa")), true, "was local, now forwarded");
  assert.equal(changed(zoneKey("corp.internal")), true, "the zone's own name");
});
