/**
 * Where a process's resident memory is, by kind of mapping, read from
 * `/proc/PID/smaps` (Linux only): the runtime binary's file pages, its
 * private (relocated, written) pages, other files, glibc malloc (the
 * `[heap]` and the 64 MiB arenas of other threads), V8's heap pages
 * (256 KiB-aligned anonymous mappings), thread stacks (an anonymous mapping
 * right after a guard page), and the rest of the anonymous memory.
 *
 * Usage: deno run --allow-all bench/rss_breakdown.ts PID
 *
 * @module
 */

/** Resident KiB per kind of mapping; see the module comment. */
export interface RssBreakdown {
  binaryFile: number;
  binaryPrivate: number;
  otherFiles: number;
  malloc: number;
  v8Heap: number;
  stacks: number;
  otherAnon: number;
  total: number;
}

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rss: number;
  anonymous: number;
}

const MIB64 = 64n * 1024n * 1024n;
const KIB256 = 256n * 1024n;

function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of text.split("\n")) {
    const head = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/);
    if (head) {
      current = {
        start: BigInt("0x" + head[1]),
        end: BigInt("0x" + head[2]),
        perms: head[3]!,
        path: head[4] ?? "",
        rss: 0,
        anonymous: 0,
      };
      mappings.push(current);
      continue;
    }
    const field = line.match(/^(Rss|Anonymous):\s+(\d+) kB/);
    if (field && current) {
      if (field[1] === "Rss") current.rss = Number(field[2]);
      else current.anonymous = Number(field[2]);
    }
  }
  return mappings;
}

/**
 * Reads `/proc/PID/smaps` and adds up its resident KiB by kind of mapping.
 *
 * @param pid The process.
 * @param binary Path of the runtime's executable (default: the process's `/proc/PID/exe`).
 * @returns KiB per kind.
 */
export function rssBreakdown(pid: number, binary?: string): RssBreakdown {
  const exe = binary ?? Deno.readLinkSync(`/proc/${pid}/exe`);
  const maps = parseSmaps(Deno.readTextFileSync(`/proc/${pid}/smaps`));
  const out: RssBreakdown = {
    binaryFile: 0,
    binaryPrivate: 0,
    otherFiles: 0,
    malloc: 0,
    v8Heap: 0,
    stacks: 0,
    otherAnon: 0,
    total: 0,
  };
  maps.forEach((map, i) => {
    out.total += map.rss;
    if (map.path === exe) {
      out.binaryFile += map.rss - map.anonymous;
      out.binaryPrivate += map.anonymous;
    } else if (map.path.startsWith("/")) {
      out.otherFiles += map.rss - map.anonymous;
      out.binaryPrivate += map.anonymous;
    } else if (map.path === "[heap]") {
      out.malloc += map.rss;
    } else if (map.path === "[stack]") {
      out.stacks += map.rss;
    } else if (map.path === "") {
      const previous = maps[i - 1];
      const next = maps[i + 1];
      const arena = map.start % MIB64 === 0n && next?.perms === "---p" && next.start === map.end &&
        next.end === map.start + MIB64;
      const guarded = previous?.perms === "---p" && previous.end === map.start &&
        previous.end - previous.start <= 64n * 1024n;
      if (arena) out.malloc += map.rss;
      else if (guarded && map.perms === "rw-p") out.stacks += map.rss;
      else if (map.start % KIB256 === 0n && (map.end - map.start) % KIB256 === 0n) {
        out.v8Heap += map.rss;
      } else out.otherAnon += map.rss;
    } else {
      out.otherAnon += map.rss;
    }
  });
  return out;
}

if (import.meta.main) {
  const pid = Number(Deno.args[0]);
  const kib = rssBreakdown(pid);
  for (const [kind, value] of Object.entries(kib)) {
    Deno.stdout.writeSync(
      new TextEncoder().encode(`${kind.padEnd(14)} ${(value / 1024).toFixed(1)} MiB\n`),
    );
  }
}
