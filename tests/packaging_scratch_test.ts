// The FROM scratch image's contents suffice, and nothing else is in it: its root filesystem is
// built by the Dockerfile's own script from deploy/scratch-libs.txt, then the proxy runs there in
// a chroot, as the image's non-root user, on a privileged port, and answers a real query through
// a TLS upstream. Removing any listed file, or the file capability, makes it fail.

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { readDockerfile, runtimeFlags, stageEnv } from "./_util/packaging_sources.ts";
import {
  appArgs,
  buildScratchRootfs,
  freePrivilegedPort,
  IMAGE_UID,
  innerPid,
  lddRealPaths,
  readProcFile,
  readScratchLibs,
  ROOTFS_CA_FILE,
  runRootfsScript,
  SCRATCH_LIBS_FILE,
  scratchCommand,
  STAND_IN_ENV,
  stopScratch,
} from "./_util/scratch_rootfs.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { requireTool } from "./_util/tools.ts";

const CAP_NET_BIND_SERVICE = 1n << 10n;

async function assertRoot(): Promise<void> {
  // Deno.uid() would need --allow-sys, which the test task does not grant.
  const { stdout } = await new Deno.Command("id", { args: ["-u"] }).output();
  assert.equal(new TextDecoder().decode(stdout).trim(), "0", "packaging tests need root (chroot)");
}

async function realPaths(paths: readonly string[]): Promise<string[]> {
  return (await Promise.all(paths.map((path) => Deno.realPath(path)))).sort();
}

/** Everything under `dir` that is not a directory, as absolute paths inside the root. */
async function listFiles(root: string, dir = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${root}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await listFiles(root, path));
    else files.push(path);
  }
  return files.sort();
}

async function run(command: Deno.Command): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await command.output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

Deno.test("scratch-libs.txt lists exactly the loader and libraries ldd finds for the Deno runtime", async () => {
  assert.deepEqual(
    await realPaths(readScratchLibs()),
    await lddRealPaths(Deno.execPath()),
    `${SCRATCH_LIBS_FILE} and \`ldd ${Deno.execPath()}\` disagree`,
  );
});

Deno.test("scratch-rootfs.sh refuses a library list that misses a library the binary links", async () => {
  await assertRoot();
  const dir = await Deno.makeTempDir({ prefix: "dotproxy-libs-" });
  try {
    const shortList = `${dir}/libs.txt`;
    await Deno.writeTextFile(
      shortList,
      readScratchLibs().filter((path) => !path.endsWith("/libgcc_s.so.1")).join("\n"),
    );
    const { code, stderr } = await runRootfsScript(`${dir}/rootfs`, shortList);
    assert.notEqual(code, 0);
    assert.match(stderr, /needs \S*libgcc_s\.so\.1, which \S+ does not list/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the scratch image's files run the proxy as a non-root user", async (t) => {
  await assertRoot();
  const getcap = requireTool("getcap");
  const root = await Deno.makeTempDir({ prefix: "dotproxy-rootfs-" });
  await using upstream = await startFakeDotServer();
  const flags = runtimeFlags();
  const [final] = readDockerfile().slice(-1);
  const port = freePrivilegedPort();
  const httpPort = deadPort();
  // The image's own ENV, with loopback addresses (tests use loopback only), the test upstream and
  // no lame-duck wait.
  const env = {
    ...stageEnv(final!),
    ...STAND_IN_ENV,
    DOTPROXY_LISTEN: "127.0.0.1",
    DOTPROXY_PORT: String(port),
    DOTPROXY_HTTP: `127.0.0.1:${httpPort}`,
    DOTPROXY_LAMEDUCK: "0",
    DOTPROXY_UPSTREAMS: `127.0.0.1:${upstream.port}#dot.test`,
    DOTPROXY_CA_FILE: ROOTFS_CA_FILE,
  };
  try {
    await buildScratchRootfs(root);

    await t.step("holds /dotproxy, the listed libraries and the stand-ins only", async () => {
      const files = await listFiles(root);
      const standIns = /^\/(app|deno-dir|ca)\//;
      assert.deepEqual(
        files.filter((file) => !standIns.test(file)),
        ["/dotproxy", ...readScratchLibs()].sort(),
      );
      for (const absent of ["/etc", "/bin", "/usr", "/tmp", "/dev", "/sys"]) {
        assert.ok(!files.some((file) => file.startsWith(`${absent}/`)), `${absent} in the image`);
      }
    });

    await t.step("/dotproxy carries the cap_net_bind_service file capability", async () => {
      const { stdout } = await new Deno.Command(getcap, { args: [`${root}/dotproxy`] }).output();
      assert.match(new TextDecoder().decode(stdout), /cap_net_bind_service[=+]ep/);
    });

    await t.step(
      "answers UDP and TCP queries through a TLS upstream on a port below 1024",
      async () => {
        const child = scratchCommand(root, appArgs(flags), env).spawn();
        let stopped = false;
        try {
          let reply: Uint8Array | undefined;
          for (let i = 0; i < 100 && reply === undefined; i++) { // bounded: about 10 s
            const query = buildQuery("scratch.example.test", "A", { id: 4242 });
            reply = await udpQuery(port, query, { timeoutMs: 100 }).catch(() => undefined);
          }
          assert.ok(reply !== undefined, "no answer from the proxy in the chroot");
          const udp = decode(reply);
          assert.equal(udp.id, 4242);
          assert.equal(udp.rcode, "NOERROR");
          assert.deepEqual(udp.answers.map((a) => a.data), ["192.0.2.1"]);
          await using tcp = await TcpDnsClient.connect(port);
          await tcp.send(buildQuery("tcp.scratch.example.test", "AAAA", { id: 7 }));
          const overTcp = decode(await tcp.receive());
          assert.equal(overTcp.id, 7);
          assert.deepEqual(overTcp.answers.map((a) => a.data), ["2001:db8::1"]);
          assert.ok(upstream.queries.some((q) => q.name === "tcp.scratch.example.test"));

          // Non-root, and no capability but the one the file grants.
          const status = await readProcFile(`/proc/${await innerPid(child.pid)}/status`);
          assert.match(status, new RegExp(`^Uid:\\s+${IMAGE_UID}\\s+${IMAGE_UID}\\s`, "m"));
          assert.match(status, new RegExp(`^Gid:\\s+${IMAGE_UID}\\s+${IMAGE_UID}\\s`, "m"));
          const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]}`);
          assert.equal(capEff, CAP_NET_BIND_SERVICE);

          // The operations endpoint of the image's ENV, and its HEALTHCHECK command.
          for (const path of ["/healthz", "/readyz"]) {
            const response = await fetch(`http://127.0.0.1:${httpPort}${path}`);
            await response.body?.cancel();
            assert.equal(response.status, 200, path);
          }
          const check = await run(scratchCommand(root, appArgs(flags, ["healthcheck"]), env));
          assert.equal(check.code, 0, check.stderr);

          stopped = true;
          const { code, stderr } = await stopScratch(child);
          assert.equal(code, 0, stderr);
          assert.match(stderr, /Received SIGTERM/);
        } finally {
          if (!stopped) await stopScratch(child);
        }
      },
    );

    await t.step("the runtime brings its own root CA store (no /etc/ssl needed)", async () => {
      // DENO_TLS_CA_STORE defaults to "mozilla": the webpki root list compiled into Deno.
      const script = 'import tls from "node:tls"; console.log(tls.rootCertificates.join("\\n"));';
      const { code, stdout } = await scratchCommand(root, ["eval", script], STAND_IN_ENV).output();
      assert.equal(code, 0);
      const pems = new TextDecoder().decode(stdout).split("-----END CERTIFICATE-----");
      assert.ok(pems.length > 100, `${pems.length} roots`);
      // ISRG Root X1 (Let's Encrypt), by the start of its base64 DER.
      assert.ok(pems.some((pem) => pem.includes("MIIFazCCA1OgAwIBAgIRAIIQz7DSQONZRGPgu2OCiwAw")));
    });

    await t.step("does not start without any one of the listed files", async () => {
      for (const lib of readScratchLibs()) {
        const saved = `${root}.saved`;
        await Deno.rename(`${root}${lib}`, saved);
        try {
          const { code, stderr } = await run(scratchCommand(root, ["--version"], STAND_IN_ENV));
          assert.notEqual(code, 0, `started without ${lib}`);
          const name = lib.slice(lib.lastIndexOf("/") + 1);
          // The loader is the program interpreter: without it exec itself fails.
          assert.match(stderr, name.startsWith("ld-linux") ? /No such file/ : new RegExp(name));
        } finally {
          await Deno.rename(saved, `${root}${lib}`);
        }
      }
      const { code, stderr } = await run(scratchCommand(root, ["--version"], STAND_IN_ENV));
      assert.equal(code, 0, stderr);
    });

    await t.step("cannot bind the privileged port without the file capability", async () => {
      const setcap = requireTool("setcap");
      assert.equal(
        (await new Deno.Command(setcap, { args: ["-r", `${root}/dotproxy`] }).output()).code,
        0,
      );
      const { code, stderr } = await run(scratchCommand(root, appArgs(flags), env));
      assert.equal(code, 1, stderr);
      assert.match(stderr, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}.*denied`, "i"));
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
