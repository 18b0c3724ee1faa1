/**
 * Protocol numbers used on the wire (RFC 1035, RFC 6891, RFC 7830, RFC 8914).
 *
 * @module
 */

/** Size of the fixed DNS message header (RFC 1035 §4.1.1). */
export const HEADER_LENGTH = 12;

/** Largest DNS message a two-octet length prefix can carry (RFC 1035 §4.2.2). */
export const MAX_MESSAGE_SIZE = 65535;

/** UDP answers are at most this big without EDNS (RFC 1035 §4.2.1). */
export const MIN_UDP_PAYLOAD = 512;

/** Longest domain name in wire form, length octets included (RFC 1035 §3.1). */
export const MAX_NAME_LENGTH = 255;

/** Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** Resource record types this proxy needs to recognise. */
export const RRTYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

/** Classes (RFC 1035 §3.2.4). */
export const RRCLASS = { IN: 1, CH: 3 } as const;

/** The only opcode this proxy forwards (RFC 1035 §4.1.1). */
export const OPCODE_QUERY = 0;

/** EDNS(0) option codes (IANA "DNS EDNS0 Option Codes"). */
export const EDNS_OPTION = {
  CLIENT_SUBNET: 8,
  COOKIE: 10,
  TCP_KEEPALIVE: 11,
  PADDING: 12,
  EXTENDED_ERROR: 15,
} as const;

/** Extended DNS Error info codes a forwarder sends (RFC 8914 §4). */
export const EDE_CODE = {
  OTHER: 0,
  STALE_ANSWER: 3,
  STALE_NXDOMAIN_ANSWER: 19,
  NOT_READY: 14,
  NO_REACHABLE_AUTHORITY: 22,
  NETWORK_ERROR: 23,
} as const;
