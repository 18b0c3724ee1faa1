/**
 * A reader for CoreDNS's Corefile (the Caddyfile syntax): server blocks, each with its keys
 * (`.:53`) and directives (plugin name, arguments, optional sub-block). No CoreDNS binary can be
 * installed here, so the tests check the Corefile's structure with this instead.
 *
 * @module
 */

/** One directive line and its optional `{ ... }` block. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly block: readonly Directive[];
}

/** One server block: `KEYS { DIRECTIVES }`. */
export interface ServerBlock {
  readonly keys: readonly string[];
  readonly directives: readonly Directive[];
}

/**
 * The plugins of CoreDNS's default build (plugin.cfg), so that a misspelt directive fails here as
 * it would fail CoreDNS's start.
 */
export const COREDNS_PLUGINS: ReadonlySet<string> = new Set(
  ("root metadata geoip cancel tls timeouts multisocket reload nsid bufsize bind debug trace " +
    "ready health pprof prometheus errors log dnstap local dns64 acl any chaos loadbalance tsig " +
    "cache rewrite header dnssec autopath minimal template transfer hosts route53 azure clouddns " +
    "k8s_external kubernetes file auto secondary etcd loop forward grpc erratic whoami on sign " +
    "view nomad").split(" "),
);

type Line = { words: string[]; opens: boolean; closes: boolean };

/** Splits the text into logical lines of words, noting `{` at the end and a lone `}`. */
function lines(text: string): Line[] {
  const result: Line[] = [];
  for (const raw of text.split("\n")) {
    const words = (raw.replace(/(^|\s)#.*$/, "").match(/"[^"]*"|\S+/g) ?? [])
      .map((word) => word.replace(/^"(.*)"$/, "$1"));
    if (words.length === 0) continue;
    if (words.length === 1 && words[0] === "}") {
      result.push({ words: [], opens: false, closes: true });
      continue;
    }
    const opens = words.at(-1) === "{";
    result.push({ words: opens ? words.slice(0, -1) : words, opens, closes: false });
  }
  return result;
}

/**
 * Parses a Corefile.
 *
 * @param text The Corefile.
 * @returns Its server blocks in order.
 * @throws {SyntaxError} On unbalanced braces or a server block without `{`.
 */
export function parseCorefile(text: string): ServerBlock[] {
  const input = lines(text);
  let at = 0;
  function block(): Directive[] {
    const directives: Directive[] = [];
    while (at < input.length) {
      const line = input[at++]!;
      if (line.closes) return directives;
      const [name, ...args] = line.words;
      directives.push({ name: name!, args, block: line.opens ? block() : [] });
    }
    throw new SyntaxError("Cannot parse Corefile: a block is not closed");
  }
  const servers: ServerBlock[] = [];
  while (at < input.length) {
    const line = input[at++]!;
    if (!line.opens) throw new SyntaxError(`Cannot parse Corefile: "${line.words.join(" ")}"`);
    servers.push({ keys: line.words, directives: block() });
  }
  return servers;
}
