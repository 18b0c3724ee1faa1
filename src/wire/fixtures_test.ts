import assert from "node:assert/strict";
import { HEADER_LENGTH } from "./constants.ts";
import { DnsFormatError } from "./dns_format_error.ts";
import { getOpcode, isResponse } from "./header.ts";
import { type MessageLayout, parseMessage } from "./message.ts";
import { FIXTURES, pointerChain } from "../../tests/testdata/messages/generate.ts";

const DIRECTORY = new URL("../../tests/testdata/messages/", import.meta.url);

type Verdict = "forward" | "drop" | "NOTIMP" | "FORMERR" | "BADVERS";

/** What each fixture is: whether parseMessage accepts it, and what the proxy should do. */
const EXPECTED: Record<string, { parses: boolean; verdict: Verdict }> = {
  "valid_query.bin": { parses: true, verdict: "forward" },
  "empty.bin": { parses: false, verdict: "drop" },
  "short_11.bin": { parses: false, verdict: "drop" },
  "header_only.bin": { parses: true, verdict: "FORMERR" },
  "qr_set.bin": { parses: true, verdict: "drop" },
  "opcode_update.bin": { parses: true, verdict: "NOTIMP" },
  "qdcount_2.bin": { parses: false, verdict: "FORMERR" },
  "truncated_question.bin": { parses: false, verdict: "FORMERR" },
  "count_beyond_data.bin": { parses: false, verdict: "FORMERR" },
  "pointer_loop.bin": { parses: false, verdict: "FORMERR" },
  "forward_pointer.bin": { parses: false, verdict: "FORMERR" },
  "pointer_chain_200.bin": { parses: false, verdict: "FORMERR" },
  "name_256_octets.bin": { parses: false, verdict: "FORMERR" },
  "opt_twice.bin": { parses: false, verdict: "FORMERR" },
  "edns_version_1.bin": { parses: true, verdict: "BADVERS" },
};

function tryParse(bytes: Uint8Array): MessageLayout | DnsFormatError {
  try {
    return parseMessage(bytes);
  } catch (error) {
    assert.ok(error instanceof DnsFormatError, `not a DnsFormatError: ${error}`);
    return error;
  }
}

/** The README's rules, in its order, using only the header helpers and parseMessage. */
function verdict(bytes: Uint8Array): Verdict {
  if (bytes.length < HEADER_LENGTH || isResponse(bytes)) return "drop";
  if (getOpcode(bytes) !== 0) return "NOTIMP";
  const layout = tryParse(bytes);
  if (layout instanceof DnsFormatError || layout.questionCount !== 1) return "FORMERR";
  if (layout.edns !== null && layout.edns.version !== 0) return "BADVERS";
  return "forward";
}

async function readFixture(file: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(file, DIRECTORY));
}

Deno.test("fixtures: every .bin file is listed, in the README too, and matches generate.ts", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(DIRECTORY)) {
    if (entry.name.endsWith(".bin")) files.push(entry.name);
  }
  assert.deepEqual(files.sort(), Object.keys(EXPECTED).sort());
  assert.deepEqual(Object.keys(FIXTURES).sort(), Object.keys(EXPECTED).sort());
  const readme = await Deno.readTextFile(new URL("README.md", DIRECTORY));
  for (const file of files) {
    assert.ok(readme.includes(`\`${file}\``), `${file} missing from the README`);
    assert.deepEqual(await readFixture(file), FIXTURES[file], `${file} differs from generate.ts`);
  }
});

for (const [file, expected] of Object.entries(EXPECTED)) {
  Deno.test(`fixtures: parseMessage() ${expected.parses ? "accepts" : "rejects"} ${file}`, async () => {
    const bytes = await readFixture(file);
    const layout = tryParse(bytes);
    assert.equal(!(layout instanceof DnsFormatError), expected.parses, String(layout));
    assert.equal(verdict(bytes), expected.verdict);
  });
}

Deno.test("fixtures: the reasons for rejection are the intended ones", () => {
  const reasons: Record<string, RegExp> = {
    "empty.bin": /header: truncated/,
    "short_11.bin": /header: truncated/,
    "qdcount_2.bin": /more than one question/,
    "truncated_question.bin": /question: truncated/,
    "count_beyond_data.bin": /truncated/,
    "pointer_loop.bin": /does not point backwards/,
    "forward_pointer.bin": /does not point backwards/,
    "pointer_chain_200.bin": /too many compression pointers/,
    "name_256_octets.bin": /longer than 255 octets/,
    "opt_twice.bin": /OPT: more than one/,
  };
  for (const [file, reason] of Object.entries(reasons)) {
    assert.throws(() => parseMessage(FIXTURES[file]!), reason, file);
  }
  assert.equal(parseMessage(FIXTURES["header_only.bin"]!).questionCount, 0);
  assert.equal(parseMessage(FIXTURES["opcode_update.bin"]!).qtype, 6);
  assert.equal(parseMessage(FIXTURES["edns_version_1.bin"]!).edns?.version, 1);
});

Deno.test("fixtures: a pointer chain of 128 is accepted, one of 129 is not", () => {
  const accepted = new Uint8Array(pointerChain(128));
  assert.equal(parseMessage(accepted).end, accepted.length);
  assert.throws(
    () => parseMessage(new Uint8Array(pointerChain(129))),
    /too many compression pointers/,
  );
});
