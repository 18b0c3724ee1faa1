/**
 * Finds the zone a name falls in: names are compared in lower case and on
 * label boundaries (`corp.internal` holds `a.corp.internal`, not
 * `xcorp.internal`), and the longest matching zone wins.
 *
 * @module
 */

import { MAX_NAME_LENGTH } from "../wire/constants.ts";
import { writeCanonicalName } from "../wire/name.ts";

const scratch = new Uint8Array(MAX_NAME_LENGTH);

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
 * const table = new ZoneTable<string>();
 * table.set("corp.internal", "corp");
 * table.set("eu.corp.internal", "eu");
 * assert.equal(table.lookupText("A.Corp.Internal"), "corp");
 * assert.equal(table.lookupText("x.eu.corp.internal."), "eu");
 * assert.equal(table.lookupText("xcorp.internal"), undefined);
 * ```
 */
export class ZoneTable<T> {
  readonly #zones = new Map<string, T>();

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
    this.#zones.set(zoneKey(zone), value);
  }

  /**
   * Whether the zone is in the table (exactly).
   *
   * @param zone The zone name (text).
   * @returns True when present.
   */
  has(zone: string): boolean {
    return this.#zones.has(zoneKey(zone));
  }

  /**
   * The value of the longest zone holding the name at `offset` of `message`.
   *
   * @param message A message.
   * @param offset Where a checked name starts (e.g. 12 for the question).
   * @returns The value, or undefined when no zone holds the name.
   */
  lookup(message: Uint8Array, offset: number): T | undefined {
    if (this.#zones.size === 0) return undefined;
    const end = writeCanonicalName(message, offset, scratch, 0);
    const name = String.fromCharCode.apply(null, scratch.subarray(0, end) as unknown as number[]);
    return this.#longest(name);
  }

  /**
   * As {@linkcode ZoneTable.lookup}, for a name written as text.
   *
   * @param name The name.
   * @returns The value, or undefined.
   */
  lookupText(name: string): T | undefined {
    return this.#longest(zoneKey(name));
  }

  #longest(name: string): T | undefined {
    for (let position = 0;;) {
      const value = this.#zones.get(position === 0 ? name : name.substring(position));
      if (value !== undefined) return value;
      const length = name.charCodeAt(position);
      if (length === 0 || Number.isNaN(length)) return undefined;
      position += length + 1;
    }
  }
}
