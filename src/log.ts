/**
 * Logging setup: the one place that configures LogTape. Other modules only
 * call {@linkcode getLogger} with a category under "dotproxy".
 *
 * @module
 */

import {
  configure,
  dispose,
  getLogger as getLogTapeLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  type Sink,
  type TextFormatter,
  // deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
} from "npm:@logtape/logtape@2.4.2";

/** Lowest severity of log records that are written. */
export type LogLevel = "debug" | "info" | "warning" | "error";
/** Log output format: human-readable lines or one JSON object per line. */
export type LogFormat = "text" | "json";

/**
 * A logger for one part of the proxy.
 *
 * @param parts Category below "dotproxy", e.g. `["upstream"]`.
 * @returns The logger.
 */
export function getLogger(...parts: string[]): Logger {
  return getLogTapeLogger(["dotproxy", ...parts]);
}

/**
 * Sends log records to stderr, one line each, as text or JSON lines.
 *
 * Writes are synchronous: lines stay in order with the process's exit, and
 * nothing logs per query at the info level, so they are rare.
 *
 * @param level Lowest level written.
 * @param format "text" for people, "json" for log collectors.
 * @param logQueries Write the query log (`--log-queries`) whatever `level` is.
 */
export async function setupLogging(
  level: LogLevel,
  format: LogFormat,
  logQueries = false,
): Promise<void> {
  const formatter = format === "json" ? formatJsonLine : getTextFormatter({ value: "bare" });
  const encoder = new TextEncoder();
  const stderr: Sink = (record: LogRecord) => {
    Deno.stderr.writeSync(encoder.encode(formatter(record)));
  };
  await configure({
    reset: true,
    sinks: { stderr },
    loggers: [
      { category: ["dotproxy"], lowestLevel: level, sinks: ["stderr"] },
      {
        category: ["dotproxy", "querylog"],
        lowestLevel: logQueries ? "info" : level,
        sinks: ["stderr"],
        parentSinks: "override",
      },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Flushes and detaches the log sinks (before exit). */
export async function shutdownLogging(): Promise<void> {
  await dispose();
}

/**
 * One JSON object per line: time, level, logger, the message with its values
 * filled in, and every property as a field of its own (so that collectors
 * can filter on `upstream` or `client` without parsing the message).
 */
const formatJsonLine: TextFormatter = (record) => {
  let message = "";
  record.message.forEach((part, i) => message += i % 2 === 0 ? part : renderValue(part));
  const line: Record<string, unknown> = {
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    logger: record.category.join("."),
    message,
  };
  for (const [key, value] of Object.entries(record.properties)) {
    if (!(key in line)) line[key] = value instanceof Error ? value.message : value;
  }
  return JSON.stringify(line) + "\n";
};

function renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  return JSON.stringify(value) ?? String(value);
}
