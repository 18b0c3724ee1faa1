import assert from "node:assert/strict";
import { buildAnyTruncated, buildRefused } from "./refusals.ts";
import { buildQuery, decode, type EdnsSettings } from "../../tests/_util/dns_packet.ts";

/** EDNS with a cookie option, so the query's OPT is longer than the bare OPT of an answer. */
const OPT: EdnsSettings = {
  udpSize: 4096,
  do: true,
  options: [{ code: 10, data: new Uint8Array(8) }],
};

function query(type = "A", edns: EdnsSettings | false = false): Uint8Array {
  return buildQuery("example.com", type, { id: 0x1234, edns });
}

Deno.test("buildRefused() echoes ID and question, never outgrows the query", () => {
  for (const message of [query(), query("A", OPT)]) {
    const answer = buildRefused(message, 1232)!;
    assert(answer.length <= message.length);
    const packet = decode(answer);
    assert.equal(packet.id, 0x1234);
    assert.equal(packet.rcode, "REFUSED");
    assert.equal(packet.flag_qr, true);
    assert.equal(packet.flag_rd, true);
    assert.deepEqual(packet.questions, [{ name: "example.com", type: "A", class: "IN" }]);
  }
});

Deno.test("buildRefused() answers malformed queries with the header alone", () => {
  const cut = query().subarray(0, 20);
  const answer = buildRefused(cut, 1232)!;
  assert.equal(answer.length, 12);
  assert.equal(answer[3]! & 0x0f, 5);
  assert.equal((answer[4]! << 8) | answer[5]!, 0);
});

Deno.test("buildRefused() drops responses and messages shorter than a header", () => {
  const response = query();
  response[2] = response[2]! | 0x80;
  assert.equal(buildRefused(response, 1232), null);
  assert.equal(buildRefused(new Uint8Array(11), 1232), null);
});

Deno.test("buildAnyTruncated() answers ANY with TC=1 and nothing else", () => {
  for (const message of [query("ANY"), query("ANY", OPT)]) {
    const answer = buildAnyTruncated(message, 1232)!;
    assert(answer.length <= message.length);
    const packet = decode(answer);
    assert.equal(packet.flag_tc, true);
    assert.equal(packet.rcode, "NOERROR");
    assert.equal(packet.answers.length, 0);
    assert.equal(packet.questions[0]!.type, "ANY");
  }
});

Deno.test("buildAnyTruncated() leaves other queries to the handler", () => {
  assert.equal(buildAnyTruncated(query("A"), 1232), null);
  assert.equal(buildAnyTruncated(query("ANY").subarray(0, 20), 1232), null);
  const version1 = query("ANY", OPT);
  version1[version1.length - 12 - 5] = 1; // EDNS VERSION octet of the OPT TTL
  assert.equal(buildAnyTruncated(version1, 1232), null);
  const update = query("ANY");
  update[2] = (5 << 3) | 1;
  assert.equal(buildAnyTruncated(update, 1232), null);
});
