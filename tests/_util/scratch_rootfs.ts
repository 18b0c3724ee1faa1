/**
 * The FROM scratch image without a container engine: builds its root filesystem with the same
 * script as the Dockerfile (deploy/scratch-rootfs.sh, reading deploy/scratch-libs.txt) and runs
 * the proxy in it with `chroot`, as the image's non-root user.
 *
 * `deno compile` cannot run here (it downloads its runtime), so the Deno CLI stands in for the
 * compiled binary as `/dotproxy`, and what the binary would embed is added beside it: the app's
 * code in `/app` and its npm packages in `/deno-dir` (scratch_app.ts). Both are linked the same way
 * (see ANCHORS.md, "deno compile output is not static").
 *
 * The only thing mounted is what every container runtime provides anyway: `/proc`, private to a
 * new PID and mount namespace, and reduced to the process's own entries (`subset=pid`,
 * `hidepid=invisible`, as systemd's `ProcSubset=pid` and `ProtectProc=invisible` do). Deno needs
 * it: the main thread's stack bounds come from `/proc/self/maps`. No `/dev`, `/sys` or `/etc`.
 *
 * Needs root (chroot, unshare, setcap), like the rest of the packaging tests.
 *
 * @module
 */

import { addAppStandIn } from "./scratch_app.ts";
import { requireTool, testdataPath } from "./tools.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/** deploy/scratch-libs.txt: the image's runtime libraries, read by the Dockerfile's build stage. */
export const SCRATCH_LIBS_FILE = `${REPO}deploy/scratch-libs.txt`;
/** deploy/scratch-rootfs.sh: assembles the image's root filesystem. */
export const SCRATCH_ROOTFS_SCRIPT = `${REPO}deploy/scratch-rootfs.sh`;
/** The image's user and group (Dockerfile `USER 65532:65532`). */
export const IMAGE_UID = 65532;
/** Where the test CA is put inside the root filesystem. */
export const ROOTFS_CA_FILE = "/ca/ca.pem";

const SBIN_PATH = `${Deno.env.get("PATH") ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;

/**
 * Reads a library list: absolute paths, one a line, `#` comments and blank lines skipped.
 *
 * @param file The list; default {@linkcode SCRATCH_LIBS_FILE}.
 * @returns The paths in file order.
 */
export function readScratchLibs(file: string = SCRATCH_LIBS_FILE): string[] {
  return Deno.readTextFileSync(file).split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * The loader and libraries `ldd` lists for `binary`, as resolved real paths (merged /usr makes
 * /lib/... and /usr/lib/... the same file).
 *
 * @param binary An ELF executable.
 * @returns Sorted real paths.
 */
export async function lddRealPaths(binary: string): Promise<string[]> {
  const ldd = requireTool("ldd");
  const { code, stdout, stderr } = await new Deno.Command(ldd, { args: [binary] }).output();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) throw new Error(`ldd ${binary} failed: ${new TextDecoder().decode(stderr)}`);
  const paths = text.split("\n").flatMap((line) => {
    if (line.includes("not found")) throw new Error(`ldd ${binary}: ${line.trim()}`);
    const match = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    return match === null ? [] : [match[1]!];
  });
  return (await Promise.all(paths.map((path) => Deno.realPath(path)))).sort();
}

/**
 * Runs deploy/scratch-rootfs.sh with the Deno runtime as the binary.
 *
 * @param root Directory to assemble the root filesystem in (need not exist).
 * @param libsFile Library list; default {@linkcode SCRATCH_LIBS_FILE}.
 * @returns The script's exit code and stderr.
 */
export async function runRootfsScript(
  root: string,
  libsFile: string = SCRATCH_LIBS_FILE,
): Promise<{ code: number; stderr: string }> {
  requireTool("setcap");
  const { code, stderr } = await new Deno.Command("sh", {
    args: [SCRATCH_ROOTFS_SCRIPT, Deno.execPath(), root, libsFile],
    env: { PATH: SBIN_PATH, LC_ALL: "C" },
    clearEnv: true,
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/**
 * Builds the image's root filesystem in `root` and adds what the compiled binary would embed:
 * the app's code (`/app`), its npm packages (`/deno-dir`), plus the test CA
 * ({@linkcode ROOTFS_CA_FILE}) and the `/proc` mount point.
 *
 * @param root An empty directory.
 */
export async function buildScratchRootfs(root: string): Promise<void> {
  const script = await runRootfsScript(root);
  if (script.code !== 0) throw new Error(`scratch-rootfs.sh failed: ${script.stderr}`);
  await addAppStandIn(root, "/app", "/deno-dir");
  await Deno.mkdir(`${root}/ca`, { mode: 0o755 });
  await Deno.copyFile(testdataPath("tls", "ca.pem"), `${root}${ROOTFS_CA_FILE}`);
  await Deno.mkdir(`${root}/proc`, { mode: 0o555 });
}

/**
 * A command that runs `/dotproxy ARGS` in the root filesystem as {@linkcode IMAGE_UID}, with
 * `env` as its environment (plus PATH, for the host-side unshare, sh and mount). The spawned process is `unshare`; the proxy is its only
 * child ({@linkcode innerPid}), and dies with it (`--kill-child`).
 *
 * @param root A root filesystem from {@linkcode buildScratchRootfs}.
 * @param args Arguments of /dotproxy.
 * @param env The whole environment inside.
 * @param wrapper Program and arguments put in front of unshare (e.g. strace).
 */
export function scratchCommand(
  root: string,
  args: readonly string[],
  env: Record<string, string>,
  wrapper: readonly string[] = [],
): Deno.Command {
  const unshare = requireTool("unshare");
  const chroot = requireTool("chroot");
  // The shell runs on the host, before chroot; it only mounts /proc and execs.
  const script = 'mount -t proc -o subset=pid,hidepid=invisible proc "$0/proc" && exec "$@"';
  const inner = [chroot, `--userspec=${IMAGE_UID}:${IMAGE_UID}`, root, "/dotproxy", ...args];
  const command = [unshare, "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", script, root];
  const [program, ...rest] = [...wrapper, ...command, ...inner];
  return new Deno.Command(program!, {
    args: rest,
    env: { ...env, PATH: SBIN_PATH },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * The arguments that make the stand-in run the app the way the compiled binary does: `run` with
 * the compile task's runtime flags, offline, pinned by its cut-down lockfile (scratch_app.ts), then
 * /app/main.ts and `args`.
 *
 * @param runtimeFlags Flags from `deno task compile`, e.g. `--allow-net`.
 * @param args The proxy's own arguments.
 */
export function appArgs(runtimeFlags: readonly string[], args: readonly string[] = []): string[] {
  return [
    "run",
    "--cached-only",
    "--lock=/app/deno.lock",
    ...runtimeFlags,
    "/app/main.ts",
    ...args,
  ];
}

/** Environment the stand-in needs in the root filesystem on top of the image's own. */
export const STAND_IN_ENV: Readonly<Record<string, string>> = {
  DENO_DIR: "/deno-dir",
  DENO_NO_UPDATE_CHECK: "1",
  NO_COLOR: "1",
};

/**
 * The PID of the first child of `parent` (for `unshare`: the proxy, once sh and chroot have
 * exec'd), waiting up to about 5 s for it to appear.
 *
 * @param parent A PID.
 */
export async function innerPid(parent: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const children = await readProcFile(`/proc/${parent}/task/${parent}/children`).catch(() => "");
    const pid = Number(children.trim().split(/\s+/)[0]);
    if (pid > 0) return pid;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`PID ${parent} has no child`);
}

/**
 * Sends SIGTERM to the proxy by PID and waits up to `timeoutMs` for the spawned process to exit;
 * kills that process (and with it the proxy, through `--kill-child`) if it does not.
 *
 * @param child The spawned process: `unshare`, or a wrapper around it.
 * @param depth How far below `child` the proxy is: 1 for `unshare`, 2 for strace + unshare.
 * @returns The exit code and the decoded stdout and stderr.
 */
export async function stopScratch(
  child: Deno.ChildProcess,
  depth = 1,
  timeoutMs = 10_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    let pid = child.pid;
    for (let level = 0; level < depth; level++) pid = await innerPid(pid);
    Deno.kill(pid, "SIGTERM");
  } catch {
    // Already gone: the output tells why.
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** A loopback port below 1024 that is free for both UDP and TCP right now (we are root). */
export function freePrivilegedPort(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 600 + Math.floor(Math.random() * 400);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" }).close();
      return port;
    } catch {
      // taken; try another
    }
  }
  throw new Error("No free port below 1024 on 127.0.0.1");
}

/**
 * Reads a file under /proc/PID. Deno refuses those paths without --allow-all, which the test task
 * does not grant, so `cat` reads it.
 *
 * @param path E.g. `/proc/123/status`.
 * @returns The file's text.
 */
export async function readProcFile(path: string): Promise<string> {
  const { code, stdout } = await new Deno.Command("cat", { args: [path], stderr: "null" }).output();
  if (code !== 0) throw new Error(`Cannot read ${path}`);
  return new TextDecoder().decode(stdout);
}
