// The Kubernetes manifests as `kubectl apply -k deploy/kubernetes` would send them: valid against
// the API schemas (unknown fields included), with container args and env the proxy's own parser
// accepts, probes on the endpoints and port the proxy serves, and the hardening the issue asks for.

import assert from "node:assert/strict";
import {
  containerLaunch,
  type KubeObject,
  kustomize,
  parseYamlObjects,
  schemaProblems,
} from "./_util/packaging_kubernetes.ts";
import { proxyConfig, readDockerfile, repoPath, stageEnv } from "./_util/packaging_sources.ts";
import { requireTool } from "./_util/tools.ts";

const DIR = repoPath("deploy", "kubernetes");
const VERSION = JSON.parse(await Deno.readTextFile(repoPath("deno.json"))).version;
const objects = await kustomize(DIR);
const imageEnv = stageEnv(readDockerfile().at(-1)!);

function find(kind: string, name?: string): KubeObject {
  const found = objects.filter((o) =>
    o.kind === kind && (name === undefined || o.metadata.name === name)
  );
  assert.equal(found.length, 1, `one ${kind} ${name ?? ""}`);
  return found[0]!;
}

const pool = find("Deployment", "dotproxy");
const nodeLocal = find("DaemonSet", "dotproxy-node-local");

// deno-lint-ignore no-explicit-any
function proxyContainer(workload: KubeObject): any {
  return workload.spec.template.spec.containers.find((c: { name: string }) =>
    c.name === "dotproxy"
  );
}

function workloadConfig(workload: KubeObject) {
  const { args, env } = containerLaunch(proxyContainer(workload), objects, imageEnv);
  return proxyConfig(args, env);
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

Deno.test("kustomization.yaml lists every manifest in deploy/kubernetes", async () => {
  const [kustomization] = parseYamlObjects(await Deno.readTextFile(`${DIR}/kustomization.yaml`));
  const files = [...Deno.readDirSync(DIR)].map((entry) => entry.name)
    .filter((name) => /\.ya?ml$/.test(name) && name !== "kustomization.yaml");
  assert.deepEqual([...kustomization!.resources].sort(), files.sort());
});

Deno.test("every rendered object is valid against the Kubernetes API schemas", () => {
  assert.ok(objects.length >= 9);
  assert.deepEqual(objects.flatMap(schemaProblems), []);
  for (const object of objects.filter((o) => o.kind !== "Namespace")) {
    assert.equal(object.metadata.namespace, "dotproxy", object.kind);
  }
});

Deno.test("the schema check rejects a wrong type and an unknown field", () => {
  const broken = structuredClone(pool);
  const container = proxyContainer(broken);
  container.ports[0].containerPort = "53";
  container.livenessProbes = container.livenessProbe;
  const problems = schemaProblems(broken).join("\n");
  assert.match(problems, /containerPort must be integer/);
  assert.match(problems, /unknown field "livenessProbes"/);
});

for (const workload of [pool, nodeLocal]) {
  const name = `${workload.kind}/${workload.metadata.name}`;
  const container = proxyContainer(workload);

  Deno.test(`${name}: args and env are accepted by the proxy; probes hit its endpoints`, () => {
    const config = workloadConfig(workload);
    assert.ok(config.http !== undefined, "the HTTP endpoint is on");
    const probes = [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]] as const;
    for (const [probe, path] of probes) {
      const httpGet = container[probe]?.httpGet;
      assert.equal(httpGet?.path, path, probe);
      const port = container.ports.find((p: { name: string; containerPort: number }) =>
        p.name === httpGet.port || p.containerPort === httpGet.port
      );
      assert.equal(port?.containerPort, config.http.port, `${probe} port`);
      assert.equal(port?.protocol, "TCP");
    }
    assert.ok(config.rateLimit > 0, "--rate-limit is set");
    assert.ok(config.lameDuckMs > 0, "--lameduck is set");
    const graceMs = workload.spec.template.spec.terminationGracePeriodSeconds * 1000;
    assert.ok(
      graceMs > config.lameDuckMs + config.timeoutMs,
      "grace period covers lame duck + drain",
    );
    // Lame duck only helps if readiness turns to 503 before the listeners close.
    const readiness = container.readinessProbe;
    assert.ok(readiness.periodSeconds * readiness.failureThreshold * 1000 < config.lameDuckMs);
  });

  Deno.test(`${name}: non-root, read-only root, only NET_BIND_SERVICE, resources set`, () => {
    const podSpec = workload.spec.template.spec;
    const security = { ...podSpec.securityContext, ...container.securityContext };
    assert.equal(security.runAsUser, 65532);
    assert.equal(security.runAsNonRoot, true);
    assert.equal(security.allowPrivilegeEscalation, false);
    assert.equal(security.readOnlyRootFilesystem, true);
    assert.deepEqual(security.capabilities, { drop: ["ALL"], add: ["NET_BIND_SERVICE"] });
    assert.equal(podSpec.securityContext.seccompProfile.type, "RuntimeDefault");
    assert.equal(podSpec.automountServiceAccountToken, false);
    for (const kind of ["requests", "limits"]) {
      assert.ok(container.resources[kind].cpu && container.resources[kind].memory, kind);
    }
    // kustomize's `images:` names the pushed image, tagged with the version being deployed.
    assert.ok(container.image.endsWith(`/dotproxy:${VERSION}`), container.image);
  });
}

Deno.test("the pool listens on all addresses, port 53, behind a ClusterIP Service on UDP and TCP", () => {
  const container = proxyContainer(pool);
  const config = workloadConfig(pool);
  assert.deepEqual(config.listen, ["0.0.0.0"]);
  const service = find("Service", "dotproxy");
  assert.equal(service.spec.type, "ClusterIP");
  assert.ok(matches(service.spec.selector, pool.spec.template.metadata.labels));
  for (const protocol of ["UDP", "TCP"]) {
    const port = service.spec.ports.find((p: { protocol: string; port: number }) =>
      p.protocol === protocol && p.port === 53
    );
    assert.ok(port !== undefined, `Service ${protocol} 53`);
    const target = container.ports.find((p: { name: string }) => p.name === port.targetPort);
    assert.deepEqual([target?.containerPort, target?.protocol], [config.port, protocol]);
  }
});

Deno.test("the PDB, HPA and NetworkPolicy cover the pool; the policy admits DNS and metrics", () => {
  const labels = pool.spec.template.metadata.labels;
  assert.ok(matches(find("PodDisruptionBudget").spec.selector.matchLabels, labels));
  const hpa = find("HorizontalPodAutoscaler").spec;
  assert.deepEqual(hpa.scaleTargetRef, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: "dotproxy",
  });
  assert.ok(hpa.minReplicas >= 2 && hpa.maxReplicas > hpa.minReplicas);
  const policy = find("NetworkPolicy").spec;
  assert.ok(matches(policy.podSelector.matchLabels, labels));
  assert.ok(!matches(policy.podSelector.matchLabels, nodeLocal.spec.template.metadata.labels));
  const config = workloadConfig(pool);
  // deno-lint-ignore no-explicit-any
  const admitted = (rule: any) =>
    rule.ports.map((p: { protocol: string; port: number }) => `${p.protocol}/${p.port}`);
  const [dns, metrics] = policy.ingress;
  assert.deepEqual(dns.from, [{ namespaceSelector: {} }], "DNS from every pod of the cluster");
  assert.deepEqual(admitted(dns).sort(), [`TCP/${config.port}`, `UDP/${config.port}`]);
  assert.deepEqual(admitted(metrics), [`TCP/${config.http!.port}`]);
  assert.ok(metrics.from[0].namespaceSelector.matchLabels, "metrics from one namespace only");
  const egress = policy.egress.flatMap(admitted);
  for (const upstream of config.upstreams) assert.ok(egress.includes(`TCP/${upstream.port}`));
});

Deno.test("the DaemonSet listens on the link-local address its init container adds", () => {
  const spec = nodeLocal.spec.template.spec;
  assert.equal(spec.hostNetwork, true);
  assert.equal(spec.dnsPolicy, "Default");
  assert.deepEqual(spec.tolerations, [{ operator: "Exists" }]);
  const config = workloadConfig(nodeLocal);
  assert.deepEqual(config.listen, ["169.254.20.53"]);
  assert.equal(config.port, 53);
  const [init] = spec.initContainers;
  assert.match(init.command.at(-1), /address=169\.254\.20\.53\n/);
  assert.deepEqual(init.securityContext.capabilities, { drop: ["ALL"], add: ["NET_ADMIN"] });
  // No hostPort 53: it would keep the pod off nodes running another DNS server on port 53.
  assert.ok(
    !proxyContainer(nodeLocal).ports.some((p: { containerPort: number }) => p.containerPort === 53),
  );
});

Deno.test("the init container's script adds the address idempotently (busybox, own netns)", async () => {
  const busybox = requireTool("busybox");
  const unshare = requireTool("unshare");
  const [init] = nodeLocal.spec.template.spec.initContainers;
  assert.deepEqual(init.command.slice(0, 2), ["sh", "-c"]);
  const bin = await Deno.makeTempDir({ prefix: "dotproxy-busybox-" });
  try {
    // Only busybox applets on PATH, as in the busybox image.
    for (const applet of ["sh", "ip", "grep"]) await Deno.symlink(busybox, `${bin}/${applet}`);
    // A new network namespace stands in for the node: loopback up, nothing else.
    const script = `ip link set lo up && sh -c "$0" && sh -c "$0" && ip -4 addr show`;
    const { code, stdout, stderr } = await new Deno.Command(unshare, {
      args: ["--net", `${bin}/sh`, "-c", script, init.command[2]],
      env: { PATH: bin },
      clearEnv: true,
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const addresses = new TextDecoder().decode(stdout);
    assert.equal(addresses.match(/inet 169\.254\.20\.53\/32/g)?.length, 1, addresses);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});
