/**
 * The product's modules import each other without a circle: arrows only point down
 * (`wire` ← `framing` ← `upstream`/`cache`/`access` ← `query_handler` ← `frontend` ← `proxy` ←
 * `main`), so any module can be read, tested and moved with only what lies below it.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The product's own module graph as `deno info --json` sees it: file → files it imports. */
async function productGraph(entry: string): Promise<Map<string, string[]>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
    }[];
  };
  const local = (specifier: string | undefined): specifier is string =>
    specifier?.startsWith(ROOT.href) ?? false;
  const name = (specifier: string) => specifier.slice(ROOT.href.length);
  const graph = new Map<string, string[]>();
  for (const module of info.modules) {
    if (!local(module.specifier)) continue;
    const imports = (module.dependencies ?? [])
      .flatMap((dependency) => [dependency.code?.specifier, dependency.type?.specifier])
      .filter(local);
    graph.set(name(module.specifier), [...new Set(imports.map(name))]);
  }
  return graph;
}

/** Every strongly connected component of more than one module (Tarjan), i.e. every circle. */
function importCircles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (module: string): void => {
    index.set(module, next);
    low.set(module, next);
    next++;
    stack.push(module);
    onStack.add(module);
    for (const imported of graph.get(module) ?? []) {
      if (!index.has(imported)) {
        visit(imported);
        low.set(module, Math.min(low.get(module)!, low.get(imported)!));
      } else if (onStack.has(imported)) {
        low.set(module, Math.min(low.get(module)!, index.get(imported)!));
      }
    }
    if (low.get(module) !== index.get(module)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== module);
    if (component.length > 1) circles.push(component.sort());
  };
  for (const module of graph.keys()) if (!index.has(module)) visit(module);
  return circles;
}

Deno.test("importCircles() finds a circle of three and ignores a diamond", () => {
  const circle = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.deepEqual(importCircles(circle), [["a", "b", "c"]]);
  const diamond = new Map([["a", ["b", "c"]], ["b", ["d"]], ["c", ["d"]], ["d", []]]);
  assert.deepEqual(importCircles(diamond), []);
});

Deno.test("the product's modules (main.ts and all it imports) hold no import circle", async () => {
  const graph = await productGraph("main.ts");
  assert.ok(graph.size > 50, `only ${graph.size} modules found: is the graph read right?`);
  assert.ok(graph.has("src/proxy.ts"));
  assert.deepEqual(importCircles(graph), []);
});
