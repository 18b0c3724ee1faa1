/**
 * Replies for the fake DoT server (fake_dot_server.ts): the default behaviour and a builder for
 * custom handlers. Built with `dns-packet` on purpose (see dns_packet.ts).
 *
 * @module
 */

import { type Answer, type DecodedPacket, encode, FLAGS } from "./dns_packet.ts";

/** One query as the fake server received it. */
export interface ReceivedQuery {
  readonly id: number;
  /** First question's name as sent (dns-packet drops the trailing dot), `""` if none. */
  readonly name: string;
  /** First question's type, e.g. `"A"`, `""` if none. */
  readonly type: string;
  /** The DNS message without its 2-byte length prefix. */
  readonly raw: Uint8Array;
  /** 1-based index of the TLS connection it arrived on (in handshake-completion order). */
  readonly connection: number;
  readonly packet: DecodedPacket;
  /** Aborted when its connection or the server closes: handlers that wait should honour it. */
  readonly signal: AbortSignal;
}

/** A reply: the DNS message to send, `"close"` to drop the connection, `"ignore"` to never answer. */
export type Reply = Uint8Array | "close" | "ignore";

const RCODES: Readonly<Record<string, number>> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
};
const OPCODE_MASK = 0x7800;

/**
 * Default answer: echoes ID and question, QR=1, RA=1, RD copied, NOERROR, A 192.0.2.1 (AAAA
 * 2001:db8::1) TTL 300, nothing for other types; an OPT (udp size 1232, DO copied) if the query had
 * one. Names ending in `nx.test` → NXDOMAIN with a SOA (TTL 60, minimum 30). Names starting with
 * `delay-<ms>.` are answered after that many ms (cut short when the connection closes).
 */
export function defaultAnswer(query: ReceivedQuery): Uint8Array | Promise<Uint8Array> {
  const name = query.name.toLowerCase();
  const delayMs = /^delay-(\d+)\./.exec(name)?.[1];
  if (delayMs !== undefined) {
    return abortableDelay(Number(delayMs), query.signal).then(() => immediateAnswer(query, name));
  }
  return immediateAnswer(query, name);
}

function immediateAnswer(query: ReceivedQuery, name: string): Uint8Array {
  if (name === "nx.test" || name.endsWith(".nx.test")) {
    const soa: Answer = {
      type: "SOA",
      name: "nx.test",
      ttl: 60,
      data: {
        mname: "ns.nx.test",
        rname: "admin.nx.test",
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 30,
      },
    };
    return answer(query, { rcode: "NXDOMAIN", authorities: [soa] });
  }
  const answers: Answer[] = [];
  if (query.type === "A") {
    answers.push({ type: "A", name: query.name, ttl: 300, data: "192.0.2.1" });
  }
  if (query.type === "AAAA") {
    answers.push({ type: "AAAA", name: query.name, ttl: 300, data: "2001:db8::1" });
  }
  return answer(query, { answers });
}

/**
 * Builds a response to `query`: same ID, question, opcode and RD; RA set; an OPT (udp size 1232,
 * DO copied) if the query had one. `flags` replaces the computed header flags (QR is always set);
 * `rcode` (e.g. `"SERVFAIL"`) then replaces the low 4 bits; `name` replaces the question name.
 */
export function answer(
  query: ReceivedQuery,
  overrides: {
    id?: number;
    name?: string;
    rcode?: string;
    answers?: Answer[];
    authorities?: Answer[];
    flags?: number;
  } = {},
): Uint8Array {
  const packet = query.packet;
  const rd = packet.flag_rd ? FLAGS.RD : 0;
  let flags = overrides.flags ?? ((packet.flags & OPCODE_MASK) | FLAGS.RA | rd);
  if (overrides.rcode !== undefined) {
    const rcode = RCODES[overrides.rcode.toUpperCase()];
    if (rcode === undefined) throw new Error(`unknown rcode ${overrides.rcode}`);
    flags = (flags & ~0xf) | rcode;
  }
  const queryOpt = packet.additionals?.find((rr) => rr.type === "OPT");
  const additionals: Answer[] = queryOpt === undefined ? [] : [{
    type: "OPT",
    name: ".",
    udpPayloadSize: 1232,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: queryOpt.flag_do ? FLAGS.DO : 0,
    flag_do: queryOpt.flag_do,
    options: [],
  }];
  const questions = (packet.questions ?? []).map((q, i) =>
    i === 0 && overrides.name !== undefined ? { ...q, name: overrides.name } : q
  );
  return encode({
    type: "response",
    id: overrides.id ?? query.id,
    flags,
    questions,
    answers: overrides.answers ?? [],
    authorities: overrides.authorities ?? [],
    additionals,
  });
}

/** Resolves after `ms`, or at once when `signal` aborts; the timer never outlives either. */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
