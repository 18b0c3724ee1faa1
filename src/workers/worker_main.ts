/**
 * A worker of `--workers N`: one proxy (startProxy) on its own thread, with
 * its own sockets on the shared port (SO_REUSEPORT), its own upstream
 * connections, and the cache every worker shares. The supervisor starts it
 * with a {@linkcode WorkerStart} message and then asks it for metrics,
 * reloads, the lame duck and the shutdown (see protocol.ts).
 *
 * @module
 */

import { setupLogging, shutdownLogging } from "../log.ts";
import { openDescriptors } from "../frontend/socket_descriptor.ts";
import { SharedCache } from "../cache/shared_cache.ts";
import { type RunningProxy, startProxy } from "../proxy.ts";
import { type HeapTrimmer, startHeapTrimmer } from "../observability/heap_trimmer.ts";
import type { FromWorker, ToWorker, WorkerStart } from "./protocol.ts";

/** The worker's scope, typed for the messages it exchanges. */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
  close(): void;
};

let proxy: RunningProxy | null = null;
/** Full collections when this worker's heap grows (see heap_trimmer.ts); each isolate has its own. */
let heapTrimmer: HeapTrimmer | null = null;

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.kind) {
    case "start":
      start(message).catch((error) => {
        scope.postMessage({ kind: "failed", message: (error as Error).message });
      });
      return;
    case "metrics":
      scope.postMessage({
        kind: "metrics",
        request: message.request,
        text: proxy?.metrics.registry.render() ?? "",
      });
      return;
    case "reload":
      proxy?.reload(message.options);
      return;
    case "lameduck":
      proxy?.enterLameDuck();
      return;
    case "shutdown":
      stop(message.graceMs);
      return;
    case "crash":
      setTimeout(() => {
        throw new Error("Worker stopped on request (test control)");
      });
      return;
  }
};

async function start(message: WorkerStart): Promise<void> {
  await setupLogging(message.logLevel, message.logFormat, message.logQueries);
  heapTrimmer = startHeapTrimmer();
  const cache = message.cache === null ? null : new SharedCache(message.cache, message.id + 1);
  proxy = startProxy({
    ...message.options,
    ...(cache !== null && { sharedCache: cache }),
    reusePort: true,
    worker: message.id,
  });
  scope.postMessage({ kind: "started", port: proxy.port, descriptors: openDescriptors() });
}

async function stop(graceMs: number): Promise<void> {
  await proxy?.shutdown(graceMs);
  heapTrimmer?.stop();
  await shutdownLogging();
  scope.postMessage({ kind: "stopped" });
}
