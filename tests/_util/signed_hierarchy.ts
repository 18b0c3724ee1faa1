/**
 * A real signed DNS hierarchy for the DNSSEC tests, generated into a temp dir at test time: keys
 * made with `ldns-keygen`, zones signed with `ldns-signzone` (ldnsutils), served by NSD on a
 * loopback port, and reached through a real Unbound (iterator only: it does not validate) over
 * DNS-over-TLS, with stub zones for every zone pointing at NSD. The root's DS goes into
 * {@linkcode SignedHierarchy.anchorFile} for `--trust-anchor-file`.
 *
 * Zones (TLD `zz.`; each zone has `www` A 192.0.2.<n> unless said otherwise; one key per zone,
 * flags 257, signing everything):
 * - `.` (algorithm 13, NSEC) and `zz.` (algorithm 8, NSEC)
 * - `alg8.zz` (NSEC; `*.wild` A 192.0.2.80, `text` TXT), `alg10.zz`, `alg13.zz` (NSEC3, 0
 *   iterations; `*.wild` A 192.0.2.130, `text` TXT), `alg14.zz`, `alg15.zz`
 * - `insecure.zz`: unsigned, delegated without DS
 * - `badsig.zz`: the RRSIG of `www` A corrupted; `expired.zz`: signed for a period in 2020;
 *   `nokey.zz`: served without its DNSKEY RRset; `dsmismatch.zz`: the parent's DS is of another
 *   key; `stripped.zz`: the RRSIG of `www` A removed
 * - `iter.zz`: NSEC3 with 150 iterations (RFC 9276: insecure denial)
 * - `keytrap.zz` (algorithm 8): 40 extra DNSKEYs with the zone key's tag, and 12 RRSIGs on `www`
 *   A, all corrupted: a validator without bounds would try 13 × 41 signatures
 * - `corp.alg8.zz`: not delegated in the signed `alg8.zz`; Unbound answers it from local data
 *   (`www` A 10.0.0.1), as a private zone behind `--forward-zone` would be
 *
 * @module
 */

import { requireTool } from "./tools.ts";
import { freePort, startUnbound, type UnboundServer } from "./unbound.ts";

/** A running hierarchy; dispose it to stop NSD and Unbound and remove the files. */
export interface SignedHierarchy extends AsyncDisposable {
  /** Unbound, the DoT resolver in front of NSD. */
  readonly unbound: UnboundServer;
  /** NSD's port on 127.0.0.1 (UDP and TCP). */
  readonly nsdPort: number;
  /** A file holding the test root's DS record, for `--trust-anchor-file`. */
  readonly anchorFile: string;
  /** Stops everything. Idempotent. */
  stop(): Promise<void>;
}

interface ZoneSpec {
  readonly name: string;
  /** ldns algorithm name; none = unsigned. */
  readonly algorithm?: string;
  /** NSEC3 with this many iterations. */
  readonly nsec3Iterations?: number;
  /** The `www` address's last octet. */
  readonly host: number;
  readonly extra?: string;
  /** Signing validity, YYYYMMDD. */
  readonly period?: { readonly inception: string; readonly expiration: string };
  /** Edits the signed zone text. */
  readonly mutate?: (text: string, key: KeyFiles) => string;
  /** The DS the parent publishes: the zone's, another key's, or none. */
  readonly ds?: "own" | "other" | "none";
}

interface KeyFiles {
  /** Base path without extension. */
  readonly base: string;
  readonly tag: number;
  readonly dnskey: string;
}

const ALGORITHM_BITS: Record<string, number> = { RSASHA256: 1024, RSASHA512: 1024 };

const CHILDREN: readonly ZoneSpec[] = [
  {
    name: "alg8.zz",
    algorithm: "RSASHA256",
    host: 8,
    extra: '*.wild IN A 192.0.2.80\ntext IN TXT "hello"\n',
  },
  { name: "alg10.zz", algorithm: "RSASHA512", host: 10 },
  {
    name: "alg13.zz",
    algorithm: "ECDSAP256SHA256",
    nsec3Iterations: 0,
    host: 13,
    extra: '*.wild IN A 192.0.2.130\ntext IN TXT "hello"\n',
  },
  { name: "alg14.zz", algorithm: "ECDSAP384SHA384", host: 14 },
  { name: "alg15.zz", algorithm: "ED25519", host: 15 },
  { name: "insecure.zz", host: 20, ds: "none" },
  { name: "badsig.zz", algorithm: "ECDSAP256SHA256", host: 21, mutate: corruptWwwSignature },
  {
    name: "expired.zz",
    algorithm: "ECDSAP256SHA256",
    host: 22,
    period: { inception: "20200101", expiration: "20200201" },
  },
  { name: "nokey.zz", algorithm: "ECDSAP256SHA256", host: 23, mutate: removeDnskeys },
  { name: "dsmismatch.zz", algorithm: "ECDSAP256SHA256", host: 24, ds: "other" },
  { name: "stripped.zz", algorithm: "ECDSAP256SHA256", host: 25, mutate: removeWwwSignature },
  { name: "iter.zz", algorithm: "ECDSAP256SHA256", nsec3Iterations: 150, host: 26 },
  { name: "keytrap.zz", algorithm: "RSASHA256", host: 27, mutate: keyTrap },
];

/** Generates, signs and serves the hierarchy. */
export async function startSignedHierarchy(): Promise<SignedHierarchy> {
  const tools = {
    keygen: requireTool("ldns-keygen"),
    signzone: requireTool("ldns-signzone"),
    key2ds: requireTool("ldns-key2ds"),
    nsd: requireTool("nsd"),
  };
  const dir = await Deno.makeTempDir({ prefix: "dotproxy-dnssec-" });
  let nsd: NsdProcess | undefined;
  try {
    const zoneFiles = new Map<string, string>();
    const delegations: string[] = [];
    for (const spec of CHILDREN) {
      const { file, ds } = await buildZone(tools, dir, spec, "");
      zoneFiles.set(spec.name, file);
      delegations.push(
        `${spec.name}. IN NS ns.${spec.name}.\nns.${spec.name}. IN A 127.0.0.1\n${ds}`,
      );
    }
    const tld = await buildZone(
      tools,
      dir,
      { name: "zz", algorithm: "RSASHA256", host: 1 },
      delegations.join(""),
    );
    zoneFiles.set("zz", tld.file);
    const root = await buildZone(
      tools,
      dir,
      { name: ".", algorithm: "ECDSAP256SHA256", host: 2 },
      `zz. IN NS ns.zz.\nns.zz. IN A 127.0.0.1\n${tld.ds}`,
    );
    zoneFiles.set(".", root.file);
    const anchorFile = `${dir}/root.anchor`;
    await Deno.writeTextFile(anchorFile, root.ds);
    nsd = await startNsd(tools.nsd, dir, zoneFiles);
    const stubs = ["", ...[...zoneFiles.keys()].filter((zone) => zone !== ".")]
      .map((zone) =>
        `stub-zone:\n  name: "${zone === "" ? "." : zone + "."}"\n  stub-addr: 127.0.0.1@${
          nsd!.port
        }\n  stub-prime: no\n`
      ).join("");
    const unbound = await startUnbound({ data: unboundData(stubs) });
    const running = nsd;
    let stopping: Promise<void> | undefined;
    const stop = () =>
      stopping ??= (async () => {
        await unbound.stop();
        await running.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
    return { unbound, nsdPort: nsd.port, anchorFile, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await nsd?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** Unbound's server settings: recursion through the stubs only, no validation, a local zone. */
function unboundData(stubs: string): string {
  return `  do-not-query-localhost: no
  qname-minimisation: no
  aggressive-nsec: no
  rrset-roundrobin: no
  minimal-responses: no
  local-zone: "corp.alg8.zz." static
  local-data: "corp.alg8.zz. 300 IN SOA ns.corp.alg8.zz. admin.corp.alg8.zz. 1 3600 600 86400 60"
  local-data: "www.corp.alg8.zz. 300 IN A 10.0.0.1"

${stubs}`;
}

interface Tools {
  readonly keygen: string;
  readonly signzone: string;
  readonly key2ds: string;
}

/** Writes, signs and mutates one zone; returns its file and the DS its parent publishes. */
async function buildZone(
  tools: Tools,
  dir: string,
  spec: ZoneSpec,
  delegations: string,
): Promise<{ file: string; ds: string }> {
  const origin = spec.name === "." ? "." : `${spec.name}.`;
  const label = spec.name === "." ? "root" : spec.name;
  const file = `${dir}/${label}.zone`;
  const text = `$ORIGIN ${origin}\n$TTL 3600\n` +
    `@ IN SOA ns.${origin === "." ? "" : origin} admin.${
      origin === "." ? "" : origin
    } 1 3600 600 86400 300\n` +
    `@ IN NS ns.${origin === "." ? "" : origin}\n` +
    `ns IN A 127.0.0.1\nwww IN A 192.0.2.${spec.host}\n` + (spec.extra ?? "") + delegations;
  await Deno.writeTextFile(file, text);
  if (spec.algorithm === undefined) return { file, ds: "" };
  const key = await keygen(tools, dir, origin, spec.algorithm);
  const mutate = spec.mutate;
  // ldns-signzone adds the signing key unless a key with its tag is there: add it first.
  if (mutate === keyTrap) {
    await Deno.writeTextFile(file, `${text}${key.dnskey}\n${fakeKeys(key, 40)}`);
  }
  const now = Date.now();
  const period = spec.period ??
    { inception: day(now - 86400_000), expiration: day(now + 30 * 86400_000) };
  const nsec3 = spec.nsec3Iterations === undefined
    ? []
    : ["-n", "-t", String(spec.nsec3Iterations), "-s", "aabbccdd"];
  await run(tools.signzone, [
    ...nsec3,
    "-i",
    period.inception,
    "-e",
    period.expiration,
    "-o",
    origin,
    file,
    key.base,
  ], dir);
  let signed = await Deno.readTextFile(`${file}.signed`);
  if (mutate !== undefined) signed = mutate(signed, key);
  await Deno.writeTextFile(`${file}.signed`, signed);
  let ds = "";
  if (spec.ds !== "none") {
    const dsKey = spec.ds === "other" ? await keygen(tools, dir, origin, spec.algorithm) : key;
    ds = (await run(tools.key2ds, ["-n", "-2", `${dsKey.base}.key`], dir)).trim() + "\n";
  }
  return { file: `${file}.signed`, ds };
}

async function keygen(
  tools: Tools,
  dir: string,
  origin: string,
  algorithm: string,
): Promise<KeyFiles> {
  const bits = ALGORITHM_BITS[algorithm];
  const args = [
    "-a",
    algorithm,
    ...(bits ? ["-b", String(bits)] : []),
    "-k",
    "-r",
    "/dev/urandom",
    origin,
  ];
  const base = `${dir}/${(await run(tools.keygen, args, dir)).trim()}`;
  const tag = Number(/\+(\d+)$/.exec(base)![1]);
  const dnskey = (await Deno.readTextFile(`${base}.key`)).split(";")[0]!.trim();
  return { base, tag, dnskey };
}

/** YYYYMMDD of a time. */
function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
}

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const output = await new Deno.Command(command, { args, cwd, stdin: "null" }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
  }
  return decoder.decode(output.stdout);
}

/** The RRSIG lines covering `www` A in a signed zone. */
function isWwwSignature(line: string): boolean {
  return /^www\.\S+\s+\d+\s+IN\s+RRSIG\s+A\s/.test(line);
}

/** Flips one character in the middle of each `www` A signature. */
function corruptWwwSignature(text: string): string {
  return text.split("\n").map((line) => isWwwSignature(line) ? corrupt(line, 0) : line).join("\n");
}

function corrupt(line: string, variant: number): string {
  const at = line.length - 20 - variant;
  const c = line[at] === "A" ? "B" : "A";
  return line.slice(0, at) + c + line.slice(at + 1);
}

function removeWwwSignature(text: string): string {
  return text.split("\n").filter((line) => !isWwwSignature(line)).join("\n");
}

function removeDnskeys(text: string): string {
  return text.split("\n").filter((line) => !/\sIN\s+(DNSKEY|RRSIG\s+DNSKEY)\s/.test(line))
    .join("\n");
}

/** KeyTrap: the `www` A signature corrupted and repeated 12 times more, each differently. */
function keyTrap(text: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (const line of lines) {
    if (!isWwwSignature(line)) {
      out.push(line);
      continue;
    }
    for (let i = 0; i < 13; i++) out.push(corrupt(line, i));
  }
  return out.join("\n");
}

/**
 * DNSKEY lines with the same flags, algorithm and key tag as `key` but other RSA moduli: two
 * octets of the modulus changed at random, two others changed to keep the key tag's sum.
 */
function fakeKeys(key: KeyFiles, count: number): string {
  const [owner, , , flags, protocol, algorithm, ...base64] = key.dnskey.split(/\s+/);
  const publicKey = Uint8Array.from(atob(base64.join("")), (c) => c.charCodeAt(0));
  const lines: string[] = [];
  // Public key octet i is RDATA octet 4 + i: at even i, the high octet of a 16-bit word of the
  // key tag's sum. Changing one word and compensating in another keeps the sum, hence the tag.
  const word = (bytes: Uint8Array, i: number) => (bytes[i]! << 8) + bytes[i + 1]!;
  while (lines.length < count) {
    const fake = publicKey.slice();
    const p = 10 + 2 * Math.floor(Math.random() * 40);
    const q = p + 30;
    const before = word(fake, p) + word(fake, q);
    const changed = Math.floor(Math.random() * 65536);
    const rest = before - changed;
    if (rest < 0 || rest > 65535 || changed === word(fake, p)) continue;
    fake[p] = changed >> 8;
    fake[p + 1] = changed & 0xff;
    fake[q] = rest >> 8;
    fake[q + 1] = rest & 0xff;
    let binary = "";
    for (const byte of fake) binary += String.fromCharCode(byte);
    lines.push(`${owner} 3600 IN DNSKEY ${flags} ${protocol} ${algorithm} ${btoa(binary)}`);
  }
  return lines.join("\n") + "\n";
}

/** One NSD process serving the zones on a free loopback port. */
class NsdProcess {
  readonly port: number;
  readonly #child: Deno.ChildProcess;
  readonly #status: Promise<Deno.CommandStatus>;
  #exited = false;
  #stopping: Promise<void> | undefined;

  constructor(nsd: string, confFile: string, port: number) {
    this.port = port;
    this.#child = new Deno.Command(nsd, {
      args: ["-d", "-c", confFile],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#status = this.#child.status.then((status) => {
      this.#exited = true;
      return status;
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (!this.#exited) this.#child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => timer = setTimeout(resolve, 5000));
      await Promise.race([this.#status, late]);
      clearTimeout(timer);
      if (!this.#exited) this.#child.kill("SIGKILL");
      await this.#status;
    })();
    return this.#stopping;
  }
}

async function startNsd(nsd: string, dir: string, zones: Map<string, string>): Promise<NsdProcess> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 4; attempt++) {
    const port = freePort();
    const confFile = `${dir}/nsd.conf`;
    const zoneConfig = [...zones].map(([name, file]) =>
      `zone:\n  name: "${name === "." ? "." : name + "."}"\n  zonefile: "${file}"\n`
    ).join("");
    await Deno.writeTextFile(
      confFile,
      `server:\n  ip-address: 127.0.0.1@${port}\n  port: ${port}\n  username: ""\n  chroot: ""\n` +
        `  zonesdir: "${dir}"\n  database: ""\n  zonelistfile: "${dir}/zone.list"\n` +
        `  xfrdfile: "${dir}/xfrd.state"\n  pidfile: "${dir}/nsd.pid"\n  logfile: "${dir}/nsd.log"\n` +
        `  server-count: 1\n  do-ip6: no\n  verbosity: 1\n  reuseport: no\n\n` +
        `remote-control:\n  control-enable: no\n\n${zoneConfig}`,
    );
    const process = new NsdProcess(nsd, confFile, port);
    try {
      await waitForNsd(process, dir);
      return process;
    } catch (error) {
      await process.stop();
      lastError = error;
    }
  }
  throw lastError;
}

/** Resolves once NSD answers the root's SOA over UDP. */
async function waitForNsd(process: NsdProcess, dir: string): Promise<void> {
  const query = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (process.exited) break;
    const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    try {
      await socket.send(query, { hostname: "127.0.0.1", port: process.port, transport: "udp" });
      const received = socket.receive();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<null>((resolve) => timer = setTimeout(resolve, 200, null));
      const reply = await Promise.race([received, late]);
      clearTimeout(timer);
      if (reply !== null) return;
      socket.close();
      await received.catch(() => {});
    } finally {
      try {
        socket.close();
      } catch {
        // closed above, to end the pending receive
      }
    }
  }
  const log = await Deno.readTextFile(`${dir}/nsd.log`).catch(() => "");
  throw new Error(`NSD did not answer on 127.0.0.1:${process.port}:\n${log.slice(-4000)}`);
}
