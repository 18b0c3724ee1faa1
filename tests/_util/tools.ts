/**
 * The external programs (unbound, dig, kdig, ...) that integration tests drive: which Debian
 * package brings each, and where it is installed.
 *
 * A missing tool is an error, never a skip: a suite that silently skips its end-to-end tests on a
 * machine without unbound would look green while testing nothing.
 *
 * @module
 */

/**
 * Every external program the tests run, with the Debian package that provides it: the programs
 * tests spawn (through {@linkcode requireTool} or by name), those the shell scripts they run call
 * (deploy/scratch-rootfs.sh, the mount in scratch_rootfs.ts), and those the systemd unit in
 * deploy/systemd runs. Deno itself is not here: it runs the tests, and .ci/run installs it from npm.
 *
 * To add a program: a line here, its package in `.ci/run`'s APT_PACKAGES and in the README's
 * prerequisites, and `program:package` in `.ci/run`'s check_tools. tests/tools_test.ts fails,
 * naming what is missing, until all four agree and the program is installed.
 */
export const TOOLS: Readonly<Record<string, string>> = {
  // End-to-end tests: the resolver behind the proxy, DNS clients, the test CA.
  "unbound": "unbound",
  "unbound-control": "unbound",
  "unbound-checkconf": "unbound",
  "dig": "bind9-dnsutils",
  "kdig": "knot-dnsutils",
  "openssl": "openssl",
  // DNSSEC tests: the signed hierarchy (authoritative server, zone signing).
  "nsd": "nsd",
  "ldns-keygen": "ldnsutils",
  "ldns-signzone": "ldnsutils",
  "ldns-key2ds": "ldnsutils",
  // Packaging tests: the scratch image, Kubernetes init container, systemd unit.
  "busybox": "busybox",
  "strace": "strace",
  "setcap": "libcap2-bin",
  "getcap": "libcap2-bin",
  "unshare": "util-linux",
  "mount": "mount",
  "chroot": "coreutils",
  "ldd": "libc-bin",
  "systemd-analyze": "systemd",
  // deploy/prometheus: the alert rules' checks and unit tests, and `check metrics` on /metrics.
  "promtool": "prometheus",
  // deploy/systemd/dotproxy.service: ExecReload=/bin/kill (not in a minimal Debian).
  "kill": "procps",
  // Spawned by name, and called by deploy/scratch-rootfs.sh: in every Debian (Essential), but
  // listed so that the list is whole.
  "sh": "dash",
  "id": "coreutils",
  "cat": "coreutils",
  "cp": "coreutils",
  "mkdir": "coreutils",
  "chmod": "coreutils",
  "dirname": "coreutils",
  "readlink": "coreutils",
  "uname": "coreutils",
  "grep": "grep",
  "awk": "mawk",
};

// Debian puts daemons such as unbound in /usr/sbin, which a non-login root shell (or CI's
// stripped environment) may not have on PATH.
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/**
 * Finds `command` on PATH (plus the sbin directories) and returns its absolute path.
 *
 * @param command program name, e.g. `"unbound"`, listed in {@linkcode TOOLS}
 * @param debianPackage the Debian package that provides it, named in the error message; by
 *   default the one {@linkcode TOOLS} gives (tests/tools_test.ts checks a given one agrees)
 * @throws {Error} when the program is not found, or is not in {@linkcode TOOLS} and no package is
 *   given
 */
export function requireTool(
  command: string,
  debianPackage: string | undefined = TOOLS[command],
): string {
  if (debianPackage === undefined) {
    throw new Error(`${command} is not in the tool registry: add it to tests/_util/tools.ts`);
  }
  const pathDirs = (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir !== "");
  for (const dir of [...pathDirs, ...EXTRA_DIRS]) {
    const candidate = `${dir}/${command}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new Error(
    `${command} not found: install the Debian package ${debianPackage} (bash .ci/run installs it)`,
  );
}

/**
 * Absolute filesystem path of a file under `tests/testdata/`, e.g.
 * `testdataPath("tls", "ca.pem")`. Resolved from this module's URL so tests work from any cwd.
 */
export function testdataPath(...segments: string[]): string {
  const url = new URL(`../testdata/${segments.map(encodeURIComponent).join("/")}`, import.meta.url);
  return decodeURIComponent(url.pathname);
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    // mode is null only on Windows; there, being a file is the best we can check.
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}
