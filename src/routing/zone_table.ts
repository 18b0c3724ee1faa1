/**
 * Finds the zone a name falls in: names are compared in lower case and on
 * label boundaries (`corp.internal` holds `a.corp.internal`, not
 * `xcorp.internal`), and the longest matching zone wins.
 *
 * @module
 */

import { MAX_NAME_LENGTH } from "../wire/constants.ts";

/**
 * Wire form of a zone written as text (`corp.internal`, `corp.internal.`,
 * `.` for the root), lower-cased, as a string of one character per octet.
 *
 * @param zone The zone name.
 * @returns Its key.
 * @throws {SyntaxError} When the name is empty or a label is empty or too long.
 */
export function zoneKey(zone: string): string {
  const trimmed = zone.endsWith(".") ? zone.slice(0, -1) : zone;
  if (trimmed === "") return "\u0000";
  let key = "";
  for (const label of trimmed.toLowerCase().split(".")) {
    if (label.length === 0 || label.length > 63 || !/^[\x21-\x7e]+$/.test(label)) {
      throw new SyntaxError(`Invalid zone "${zone}": bad label "${label}"`);
    }
    key += String.fromCharCode(label.length) + label;
  }
  if (key.length + 1 > MAX_NAME_LENGTH) throw new SyntaxError(`Invalid zone "${zone}": too long`);
  return key + "\u0000";
}

/**
 * A table from zones to values.
 *
 * @example Longest match on label boundaries
 * ```ts
 * import assert from "node:assert/strict";
 * import { ZoneTable } from "./zone_table.ts";
 *
 * import { zoneKey } from "./zone_table.ts";
 *
 * const table = new ZoneTable<string>();
 * table.set("corp.internal", "corp");
 * table.set("eu.corp.internal", "eu");
 * assert.equal(table.lookup(zoneKey("A.Corp.Internal")), "corp");
 * assert.equal(table.lookup(zoneKey("x.eu.corp.internal.")), "eu");
 * assert.equal(table.lookup(zoneKey("xcorp.internal")), undefined);
 * ```
 */
export class ZoneTable<T> {
  readonly #zones = new Map<string, T>();
  /**
   * Which key lengths the zones have (a name key is at most 255 octets), so
   * that a lookup builds and hashes only the suffixes that could match: most
   * names are under no zone, and this turned a substring per label into
   * none (the lookup was 2 % of the CPU in the profile).
   */
  readonly #keyLengths = new Uint8Array(256);

  /** Number of zones. */
  get size(): number {
    return this.#zones.size;
  }

  /**
   * Adds or replaces a zone.
   *
   * @param zone The zone name (text).
   * @param value Its value.
   */
  set(zone: string, value: T): void {
    const key = zoneKey(zone);
    this.#zones.set(key, value);
    this.#keyLengths[key.length] = 1;
  }

  /**
   * The value of the longest zone holding a name.
   *
   * @param name The name key (`keyName` of a query's cache key, or `zoneKey` of a text name).
   * @returns The value, or undefined when no zone holds the name.
   */
  lookup(name: string): T | undefined {
    return this.#zones.size === 0 ? undefined : this.#longest(name);
  }

  #longest(name: string): T | undefined {
    for (let position = 0;;) {
      if (this.#keyLengths[name.length - position] === 1) {
        const value = this.#zones.get(position === 0 ? name : name.substring(position));
        if (value !== undefined) return value;
      }
      const length = name.charCodeAt(position);
      if (length === 0 || Number.isNaN(length)) return undefined;
      position += length + 1;
    }
  }
}
