/**
 * The messages between the supervisor (main.ts with `--workers N`) and its
 * workers (worker_main.ts). Everything in them is structured-cloneable; the
 * shared cache travels as its SharedArrayBuffer.
 *
 * @module
 */

import type { LogFormat, LogLevel } from "../log.ts";
import type { ProxyOptions, ReloadableOptions } from "../proxy.ts";
import type { SocketDescriptor } from "../frontend/socket_descriptor.ts";

/** What a worker is started with. */
export interface WorkerStart {
  readonly kind: "start";
  /** The worker's number, from 0 (named in the query log). */
  readonly id: number;
  /** The proxy's options for this worker (its share of the limits, the port to bind). */
  readonly options: Omit<ProxyOptions, "sharedCache" | "reusePort" | "worker" | "http">;
  /** The shared cache's memory, or null when the cache is off. */
  readonly cache: SharedArrayBuffer | null;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly logQueries: boolean;
}

/** Messages to a worker after its start. */
export type ToWorker =
  | WorkerStart
  | { readonly kind: "metrics"; readonly request: number }
  | { readonly kind: "reload"; readonly options: ReloadableOptions }
  | { readonly kind: "lameduck" }
  | { readonly kind: "shutdown"; readonly graceMs: number }
  /** Test control: end the worker with an uncaught exception. */
  | { readonly kind: "crash" };

/** Messages from a worker. */
export type FromWorker =
  /** Serving on `port`; `descriptors` are its SO_REUSEPORT UDP sockets. */
  | {
    readonly kind: "started";
    readonly port: number;
    readonly descriptors: readonly SocketDescriptor[];
  }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "metrics"; readonly request: number; readonly text: string }
  | { readonly kind: "stopped" };
