/**
 * Settings for DNSSEC validation (`--dnssec`, `--trust-anchor-file`,
 * `--dnssec-insecure`; see
 * docs/dnssec.md). Declared here and merged into the settings table of
 * `config.ts`.
 *
 * @module
 */

import { parseTrustAnchors, type TrustAnchor } from "../dnssec/trust_anchors.ts";
import { zoneKey } from "../routing/zone_table.ts";
import { ConfigError, list, oneOf, type Parser, readNamedFile, single } from "./setting.ts";

/** Whether answers are validated. */
export type DnssecMode = "off" | "validate";

/** A trust anchor file as read. */
export interface TrustAnchorFile {
  readonly path: string;
  readonly anchors: readonly TrustAnchor[];
}

/** DNSSEC settings. */
export interface DnssecSettings {
  /** `validate` checks answers against the trust anchors; `off` forwards them as they come. */
  readonly dnssec: DnssecMode;
  /** Extra anchors; one for a zone replaces the built-in one of that zone (the root). */
  readonly trustAnchorFile: TrustAnchorFile | undefined;
  /** Negative trust anchors (RFC 7646): zones answered insecure without a chain walk. */
  readonly dnssecInsecure: readonly string[];
}

/**
 * Parses a zone name for `--dnssec-insecure`: lower case, no trailing dot
 * (`.` for the root).
 *
 * @param raw The zone.
 * @param source The flag or variable, for errors.
 * @returns The zone in text form.
 */
export const parseInsecureZone: Parser<string> = (raw, source) => {
  const zone = raw.trim();
  try {
    zoneKey(zone);
  } catch (error) {
    throw new ConfigError(`Invalid ${source} "${raw}": ${(error as Error).message}`);
  }
  return zone === "." ? zone : zone.replace(/\.$/, "").toLowerCase();
};

/**
 * Reads a file of DS or DNSKEY lines in zone-file syntax.
 *
 * @param raw The path.
 * @param source The flag or variable, for errors.
 * @param context Reads the file.
 * @returns The anchors.
 */
export const parseTrustAnchorFile: Parser<TrustAnchorFile> = (raw, source, context) => {
  const text = readNamedFile(raw, source, context);
  let anchors: TrustAnchor[];
  try {
    anchors = parseTrustAnchors(text);
  } catch (error) {
    throw new ConfigError(`Invalid ${source} "${raw}": ${(error as Error).message}`);
  }
  if (anchors.length === 0) {
    throw new ConfigError(`Invalid ${source} "${raw}": no DS or DNSKEY record in it`);
  }
  return { path: raw, anchors };
};

/** The settings of {@linkcode DnssecSettings}, for the table in `config.ts`. */
export const DNSSEC_SETTINGS = {
  dnssec: single<DnssecMode>({
    flag: "dnssec",
    env: ["DOTPROXY_DNSSEC"],
    parse: oneOf("off", "validate"),
    default: () => "off",
  }),
  trustAnchorFile: single<TrustAnchorFile | undefined>({
    flag: "trust-anchor-file",
    env: ["DOTPROXY_TRUST_ANCHOR_FILE"],
    parse: parseTrustAnchorFile,
    default: () => undefined,
  }),
  dnssecInsecure: list<string>({
    flag: "dnssec-insecure",
    env: ["DOTPROXY_DNSSEC_INSECURE"],
    parse: parseInsecureZone,
    default: () => [],
  }),
};
