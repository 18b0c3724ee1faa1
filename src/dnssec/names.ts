/**
 * Domain names as the validator handles them: uncompressed wire form in
 * lower case (RFC 4034 §6.2), compared in canonical order (RFC 4034 §6.1).
 *
 * @module
 */

import { MAX_NAME_LENGTH } from "../wire/constants.ts";

/** A name in uncompressed wire form, lower case, ending with the root label. */
export type Name = Uint8Array;

/** The root name. */
export const ROOT: Name = new Uint8Array([0]);

/** The wildcard label `*`. */
const ASTERISK = 0x2a;

/** ASCII lower case of one octet. */
export function lowerAscii(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}

/**
 * Reads a checked name (see `skipName`) from a message, following
 * compression pointers.
 *
 * @param message The message.
 * @param offset Where the name starts.
 * @param lower Whether to fold ASCII letters to lower case.
 * @returns The name, uncompressed.
 */
export function readName(message: Uint8Array, offset: number, lower = true): Name {
  const out = new Uint8Array(MAX_NAME_LENGTH);
  let i = offset;
  let o = 0;
  for (let hops = 0; hops < 128; hops++) {
    while ((message[i]! & 0xc0) === 0xc0) i = ((message[i]! & 0x3f) << 8) | message[i + 1]!;
    const length = message[i]!;
    out[o++] = length;
    if (length === 0) return out.slice(0, o);
    for (let k = 1; k <= length; k++) {
      out[o++] = lower ? lowerAscii(message[i + k]!) : message[i + k]!;
    }
    i += length + 1;
  }
  return out.slice(0, o);
}

/**
 * Parses a name in presentation form (`example.com.`, `\.` and `\DDD`
 * escapes); the trailing dot is optional.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameFromText, nameToText } from "./names.ts";
 *
 * assert.equal(nameToText(nameFromText("WWW.Example.com")), "www.example.com.");
 * ```
 *
 * @param text The name.
 * @returns The name in lower-case wire form.
 * @throws {SyntaxError} On an empty label or a name over 255 octets.
 */
export function nameFromText(text: string): Name {
  if (text === "." || text === "") return ROOT;
  const labels: number[][] = [[]];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (i !== text.length - 1) labels.push([]);
      continue;
    }
    let byte = c;
    if (c === 0x5c) {
      const digits = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(digits)) {
        byte = Number(digits);
        i += 3;
      } else {
        byte = text.charCodeAt(++i);
      }
    }
    labels[labels.length - 1]!.push(lowerAscii(byte));
  }
  const out: number[] = [];
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) {
      throw new SyntaxError(`Cannot parse name ${text}: bad label length`);
    }
    out.push(label.length, ...label);
  }
  out.push(0);
  if (out.length > MAX_NAME_LENGTH) throw new SyntaxError(`Cannot parse name ${text}: too long`);
  return new Uint8Array(out);
}

/** Presentation form of a name, for logs and errors. */
export function nameToText(name: Name): string {
  let text = "";
  for (const label of labels(name)) {
    for (const byte of label) {
      text += byte === 0x2e || byte === 0x5c
        ? "\\" + String.fromCharCode(byte)
        : byte <= 0x20 || byte >= 0x7f
        ? "\\" + String(byte).padStart(3, "0")
        : String.fromCharCode(byte);
    }
    text += ".";
  }
  return text === "" ? "." : text;
}

/** A string usable as a Map key (one character per octet). */
export function nameKey(name: Name): string {
  return String.fromCharCode(...name);
}

/** The labels of a name, leftmost first, root excluded. */
export function labels(name: Name): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; name[i]! !== 0; i += name[i]! + 1) {
    out.push(name.subarray(i + 1, i + 1 + name[i]!));
  }
  return out;
}

/** Number of labels, root excluded. */
export function labelCount(name: Name): number {
  let count = 0;
  for (let i = 0; name[i]! !== 0; i += name[i]! + 1) count++;
  return count;
}

/** Whether the leftmost label is `*`. */
export function isWildcard(name: Name): boolean {
  return name[0] === 1 && name[1] === ASTERISK;
}

/** The name without its leftmost `drop` labels. */
export function ancestor(name: Name, drop: number): Name {
  let i = 0;
  for (let k = 0; k < drop && name[i]! !== 0; k++) i += name[i]! + 1;
  return name.subarray(i);
}

/** The name with its leftmost label removed (the root stays the root). */
export function parent(name: Name): Name {
  return ancestor(name, 1);
}

/** `*.` + name. */
export function wildcardOf(name: Name): Name {
  const out = new Uint8Array(name.length + 2);
  out[0] = 1;
  out[1] = ASTERISK;
  out.set(name, 2);
  return out;
}

/** `label.` + name. */
export function prepend(label: Uint8Array, name: Name): Name {
  const out = new Uint8Array(name.length + label.length + 1);
  out[0] = label.length;
  out.set(label, 1);
  out.set(name, label.length + 1);
  return out;
}

/** Whether two lower-case names are equal. */
export function namesEqual(a: Name, b: Name): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `name` is `zone` or below it. */
export function isSubdomain(name: Name, zone: Name): boolean {
  if (name.length < zone.length) return false;
  const tail = name.subarray(name.length - zone.length);
  if (!namesEqual(tail, zone)) return false;
  // The tail must start on a label boundary of `name`.
  for (let i = 0; i <= name.length - zone.length; i += name[i]! + 1) {
    if (i === name.length - zone.length) return true;
  }
  return false;
}

/**
 * Canonical order of names (RFC 4034 §6.1): labels compared from the
 * right, each as a left-justified octet string.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareNames, nameFromText } from "./names.ts";
 *
 * const order = ["example", "a.example", "yljkjljk.a.example", "Z.a.example", "zABC.a.EXAMPLE",
 *   "z.example", "\\001.z.example", "*.z.example", "\\200.z.example"];
 * const names = order.map(nameFromText);
 * for (let i = 1; i < names.length; i++) assert.ok(compareNames(names[i - 1]!, names[i]!) < 0);
 * ```
 *
 * @returns Negative, zero or positive.
 */
export function compareNames(a: Name, b: Name): number {
  const la = labels(a);
  const lb = labels(b);
  for (let i = 1; i <= Math.min(la.length, lb.length); i++) {
    const x = la[la.length - i]!;
    const y = lb[lb.length - i]!;
    const c = compareBytes(x, y);
    if (c !== 0) return c;
  }
  return la.length - lb.length;
}

/** Octet-string order, a shorter prefix first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The longest name both are under. */
export function commonAncestor(a: Name, b: Name): Name {
  const la = labels(a);
  const lb = labels(b);
  let shared = 0;
  while (
    shared < la.length && shared < lb.length &&
    compareBytes(la[la.length - 1 - shared]!, lb[lb.length - 1 - shared]!) === 0
  ) shared++;
  return ancestor(a, la.length - shared);
}
