/**
 * DNSSEC validation in the resolver's path (`--dnssec validate`): each
 * upstream reply is validated before it is cached, and the cached answer
 * carries its state, so a cached answer never changes it. Bogus replies
 * become SERVFAIL with an Extended DNS Error (cached like any SERVFAIL, 5
 * s), logged and counted; replies for CD=1 queries are kept unchecked;
 * DO=0 clients get no RRSIG, NSEC or NSEC3 records.
 *
 * @module
 */

import { HEADER_LENGTH, RCODE } from "../wire/constants.ts";
import { COUNT_OFFSET, FLAG2, FLAG3, writeU16 } from "../wire/header.ts";
import type { MessageLayout } from "../wire/message.ts";
import { nameToString } from "../wire/name.ts";
import { extendedErrorLength, writeExtendedError } from "../wire/edns.ts";
import { type Answer, answerFromReply } from "../wire/responses.ts";
import { keyCheckingDisabled, keyDnssecOk, keyName } from "../cache/cache_key.ts";
import type { AnswerCheck } from "../cache/resolver.ts";
import type { Router } from "../routing/router.ts";
import type { ProxyMetrics } from "../observability/proxy_metrics.ts";
import { getLogger } from "../log.ts";
import { nameFromText } from "./names.ts";
import { stripDnssecRecords } from "./strip_dnssec.ts";
import type { Validator } from "./validator.ts";
import { DNSSEC_EDE, type Verdict } from "./verdict.ts";

const log = getLogger("dnssec");
const encoder = new TextEncoder();

/** Longest EXTRA-TEXT put in a bogus answer's Extended DNS Error. */
const MAX_EDE_TEXT = 200;

/** Label values of the bogus counter, by EDE code. */
const REASONS: ReadonlyMap<number, string> = new Map([
  [DNSSEC_EDE.OTHER, "other"],
  [DNSSEC_EDE.BOGUS, "bogus"],
  [DNSSEC_EDE.SIGNATURE_EXPIRED, "signature-expired"],
  [DNSSEC_EDE.SIGNATURE_NOT_YET_VALID, "signature-not-yet-valid"],
  [DNSSEC_EDE.DNSKEY_MISSING, "dnskey-missing"],
  [DNSSEC_EDE.RRSIGS_MISSING, "rrsigs-missing"],
  [DNSSEC_EDE.NSEC_MISSING, "nsec-missing"],
  [DNSSEC_EDE.NO_REACHABLE_AUTHORITY, "timeout"],
]);

/** Settings of {@linkcode DnssecAnswers}. */
export interface DnssecAnswersOptions {
  readonly validator: Validator;
  /** The current router: names in a forward zone need an anchor of their own. */
  readonly router: () => Router;
  readonly metrics: ProxyMetrics;
  /** `--timeout`: a query's deadline is its arrival plus this, validation included. */
  readonly timeoutMs: number;
}

/** Validates upstream replies for the resolver (see {@linkcode AnswerCheck}). */
export class DnssecAnswers implements AnswerCheck {
  readonly #validator: Validator;
  readonly #router: () => Router;
  readonly #metrics: ProxyMetrics;
  readonly #timeoutMs: number;

  /** @param options The validator, router, metrics and timeout. */
  constructor(options: DnssecAnswersOptions) {
    this.#validator = options.validator;
    this.#router = options.router;
    this.#metrics = options.metrics;
    this.#timeoutMs = options.timeoutMs;
  }

  /** See {@linkcode AnswerCheck.check}. */
  async check(
    key: string,
    reply: Uint8Array,
    layout: MessageLayout,
    arrivedAt: number,
  ): Promise<Answer> {
    if (keyCheckingDisabled(key)) return shaped(key, reply, layout, "unchecked");
    const name = keyName(key);
    // Under a negative trust anchor: insecure without decoding the reply (the benchmark's path).
    if (this.#validator.insecureReason(name) !== undefined) {
      return shaped(key, reply, layout, "insecure");
    }
    const route = this.#router().route(name);
    const forwardZone = route.kind === "forward" && route.zone !== "."
      ? nameFromText(route.zone)
      : undefined;
    const verdict = await this.#validator.validate(
      reply.subarray(0, layout.end),
      forwardZone,
      arrivedAt + this.#timeoutMs,
    );
    if (verdict.state === "secure" && verdict.ttl !== undefined) {
      return { ...shaped(key, reply, layout, "secure"), secureFor: verdict.ttl };
    }
    if (verdict.state !== "bogus") return shaped(key, reply, layout, verdict.state);
    const ede = verdict.ede ?? DNSSEC_EDE.BOGUS;
    const reason = REASONS.get(ede) ?? "other";
    const limit = verdict.reason?.startsWith("DNSSEC work limit") ? "work-limit" : reason;
    this.#metrics.dnssecBogus(limit);
    log.warning("DNSSEC validation failed for {name} type {type}: {reason} (EDE {ede})", {
      name: nameToString(reply, HEADER_LENGTH),
      type: layout.qtype,
      reason: verdict.reason ?? "bogus",
      ede,
    });
    return bogusAnswer(reply, layout, verdict, ede);
  }
}

/** The reply without its OPT record, stripped of DNSSEC records for DO=0 keys. */
function shaped(
  key: string,
  reply: Uint8Array,
  layout: MessageLayout,
  security: Answer["security"],
): Answer {
  const answer = answerFromReply(reply, layout);
  const message = keyDnssecOk(key)
    ? answer.message
    : stripDnssecRecords(answer.message, answer.questionEnd, layout.qtype);
  return { ...answer, message, security };
}

/**
 * SERVFAIL with the reply's question and an Extended DNS Error naming the
 * failure (RFC 8914 §4.7-4.13).
 */
function bogusAnswer(
  reply: Uint8Array,
  layout: MessageLayout,
  verdict: Verdict,
  ede: number,
): Answer {
  const message = new Uint8Array(layout.questionEnd);
  message.set(reply.subarray(0, layout.questionEnd));
  message[2] = FLAG2.QR | (reply[2]! & FLAG2.RD);
  message[3] = FLAG3.RA | RCODE.SERVFAIL;
  writeU16(message, COUNT_OFFSET.QD, 1);
  writeU16(message, COUNT_OFFSET.AN, 0);
  writeU16(message, COUNT_OFFSET.NS, 0);
  writeU16(message, COUNT_OFFSET.AR, 0);
  const text = encoder.encode(`DNSSEC: ${verdict.reason ?? "bogus"}`.slice(0, MAX_EDE_TEXT));
  const option = new Uint8Array(extendedErrorLength(text));
  writeExtendedError(option, 0, ede, text);
  return {
    message,
    questionEnd: layout.questionEnd,
    extendedRcode: 0,
    errors: [option],
    security: "bogus",
  };
}
