/**
 * Locating the external programs (unbound, dig, kdig, ...) that integration tests drive.
 *
 * A missing tool is an error, never a skip: a suite that silently skips its end-to-end tests on a
 * machine without unbound would look green while testing nothing.
 *
 * @module
 */

// Debian puts daemons such as unbound in /usr/sbin, which a non-login root shell (or CI's
// stripped environment) may not have on PATH.
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/**
 * Finds `command` on PATH (plus the sbin directories) and returns its absolute path.
 *
 * @param command program name, e.g. `"unbound"`
 * @param debianPackage the Debian package that provides it, named in the error message
 * @throws {Error} when the program is not found
 */
export function requireTool(command: string, debianPackage: string): string {
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
