/**
 * Thrown when bytes cannot be read as a DNS message.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DnsFormatError } from "./dns_format_error.ts";
 *
 * const error = new DnsFormatError("Cannot read name: pointer loop", 14);
 * assert.equal(error.offset, 14);
 * assert.ok(error instanceof SyntaxError);
 * ```
 */
export class DnsFormatError extends SyntaxError {
  /** Offset in the message where reading failed. */
  readonly offset: number;

  /**
   * @param message What could not be read, and why.
   * @param offset Offset in the message where reading failed.
   */
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = "DnsFormatError";
    this.offset = offset;
  }
}
