// deno-lint-ignore-file no-import-prefix -- pinned here, not in deno.json: docs/development.md

/**
 * Kubernetes manifests as the API server would see them: rendered by kustomize (`kubectl
 * kustomize`, what `kubectl apply -k` runs), then validated against the Kubernetes API schemas
 * twice over: `kubernetes-models` (ajv validators compiled from the OpenAPI spec: types, formats,
 * required fields) and the model classes of the official JavaScript client, whose attribute maps
 * reject unknown fields the way `kubectl apply --validate=strict` does.
 *
 * @module
 */

// @ts-types="./kubernetes_client_node.d.ts"
import * as k8sClient from "npm:@kubernetes/client-node@2.0.1";
import { Namespace } from "npm:kubernetes-models@5.1.0/v1/Namespace";
import { ServiceAccount } from "npm:kubernetes-models@5.1.0/v1/ServiceAccount";
import { ConfigMap } from "npm:kubernetes-models@5.1.0/v1/ConfigMap";
import { Service } from "npm:kubernetes-models@5.1.0/v1/Service";
import { Deployment } from "npm:kubernetes-models@5.1.0/apps/v1/Deployment";
import { DaemonSet } from "npm:kubernetes-models@5.1.0/apps/v1/DaemonSet";
import { PodDisruptionBudget } from "npm:kubernetes-models@5.1.0/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "npm:kubernetes-models@5.1.0/autoscaling/v2/HorizontalPodAutoscaler";
import { NetworkPolicy } from "npm:kubernetes-models@5.1.0/networking.k8s.io/v1/NetworkPolicy";
import { parseAllDocuments } from "npm:yaml@2.9.1";

/** A Kubernetes object as parsed from YAML. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // deno-lint-ignore no-explicit-any
  [field: string]: any;
}

/** `new Model(data).validate()` of kubernetes-models, and the client model class name. */
interface Schema {
  readonly validate: (data: KubeObject) => void;
  readonly clientModel: string;
}

function schema(model: new (data: never) => { validate(): void }, clientModel: string): Schema {
  return { validate: (data) => new model(data as never).validate(), clientModel };
}

/** Every kind the manifests may use, by `apiVersion/kind`. */
const SCHEMAS: Readonly<Record<string, Schema>> = {
  "v1/Namespace": schema(Namespace, "V1Namespace"),
  "v1/ServiceAccount": schema(ServiceAccount, "V1ServiceAccount"),
  "v1/ConfigMap": schema(ConfigMap, "V1ConfigMap"),
  "v1/Service": schema(Service, "V1Service"),
  "apps/v1/Deployment": schema(Deployment, "V1Deployment"),
  "apps/v1/DaemonSet": schema(DaemonSet, "V1DaemonSet"),
  "policy/v1/PodDisruptionBudget": schema(PodDisruptionBudget, "V1PodDisruptionBudget"),
  "autoscaling/v2/HorizontalPodAutoscaler": schema(
    HorizontalPodAutoscaler,
    "V2HorizontalPodAutoscaler",
  ),
  "networking.k8s.io/v1/NetworkPolicy": schema(NetworkPolicy, "V1NetworkPolicy"),
};

/**
 * Parses a YAML stream into objects; throws on any YAML error.
 *
 * @param text One or more `---`-separated documents.
 */
export function parseYamlObjects(text: string): KubeObject[] {
  return parseAllDocuments(text).flatMap((document) => {
    if (document.errors.length > 0) throw document.errors[0];
    const value = document.toJS();
    return value === null ? [] : [value as KubeObject];
  });
}

/** Kinds that live outside any namespace (kustomize leaves them without one). */
const CLUSTER_SCOPED = new Set(["Namespace"]);

/**
 * Renders a kustomization as `kubectl apply -k dir` would, for the fields this project's
 * kustomization uses: `resources`, `namespace` and `images`. Any other field is an error, so
 * that a kustomization this renderer does not understand cannot pass unnoticed. (kubectl is not
 * in Debian's repositories, so CI could not install it.)
 *
 * @param dir The directory holding kustomization.yaml.
 * @returns The objects `kubectl apply -k dir` would send.
 */
export async function kustomize(dir: string): Promise<KubeObject[]> {
  const [kustomization] = parseYamlObjects(await Deno.readTextFile(`${dir}/kustomization.yaml`));
  if (kustomization === undefined) throw new Error(`${dir}/kustomization.yaml is empty`);
  const known = new Set(["apiVersion", "kind", "namespace", "resources", "images"]);
  const unknown = Object.keys(kustomization).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new Error(`kustomization fields not rendered here: ${unknown}`);
  const images: { name: string; newName?: string; newTag?: string }[] = kustomization.images ?? [];
  const objects: KubeObject[] = [];
  for (const resource of kustomization.resources as string[]) {
    for (const object of parseYamlObjects(await Deno.readTextFile(`${dir}/${resource}`))) {
      if (kustomization.namespace && !CLUSTER_SCOPED.has(object.kind)) {
        object.metadata.namespace = kustomization.namespace;
      }
      const pod = object.spec?.template?.spec;
      for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
        const [name, tag] = String(container.image).split(":");
        const image = images.find((candidate) => candidate.name === name);
        if (image) container.image = `${image.newName ?? name}:${image.newTag ?? tag}`;
      }
      objects.push(object);
    }
  }
  return objects;
}

/**
 * Validates an object against its kind's API schema; returns the problems found (empty when
 * valid): schema violations, unknown fields, unknown kinds.
 *
 * @param object A parsed manifest.
 */
export function schemaProblems(object: KubeObject): string[] {
  const where = `${object.kind}/${object.metadata?.name}`;
  const found = SCHEMAS[`${object.apiVersion}/${object.kind}`];
  if (found === undefined) return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
  const problems: string[] = [];
  try {
    found.validate(object);
  } catch (error) {
    problems.push(`${where}: ${(error as Error).message}`);
  }
  problems.push(...unknownFields(object, found.clientModel, where));
  return problems;
}

type AttributeMap = { baseName: string; type: string }[];
const models = k8sClient as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>;

/** Fields that the client model of `type` does not know, recursively. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((item, i) => unknownFields(item, array[1]!, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) {
    if (typeof value !== "object") return [`${path}: expected a map`];
    return Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`));
  }
  const attributes = models[type]?.getAttributeTypeMap?.();
  if (attributes === undefined) return []; // string, number, IntOrString, ...: ajv checks those
  if (typeof value !== "object" || Array.isArray(value)) return [`${path}: expected an object`];
  return Object.entries(value).flatMap(([key, field]) => {
    const attribute = attributes.find((a) => a.baseName === key);
    if (attribute === undefined) return [`${path}: unknown field "${key}" (${type})`];
    return unknownFields(field, attribute.type, `${path}.${key}`);
  });
}

/** A container's command line and environment as the kubelet would start it. */
export interface ContainerLaunch {
  readonly args: string[];
  readonly env: Record<string, string>;
}

/**
 * The arguments and environment a container gets: the image's ENV, overridden by `envFrom`
 * ConfigMaps, then by `env` (fieldRefs filled from `downward`); `$(VAR)` references are expanded
 * in values and args. The container must not replace the image's ENTRYPOINT (`command`).
 *
 * @param container A container spec.
 * @param objects All rendered objects (to find ConfigMaps).
 * @param imageEnv The image's ENV.
 * @param downward Values for `fieldRef.fieldPath`, e.g. `{ "status.hostIP": "192.0.2.10" }`.
 */
export function containerLaunch(
  // deno-lint-ignore no-explicit-any
  container: any,
  objects: readonly KubeObject[],
  imageEnv: Record<string, string>,
  downward: Record<string, string> = {},
): ContainerLaunch {
  if (container.command !== undefined) throw new Error(`${container.name} replaces ENTRYPOINT`);
  const env: Record<string, string> = { ...imageEnv };
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name);
    if (configMap === undefined) throw new Error(`envFrom names a missing ConfigMap ${name}`);
    Object.assign(env, configMap.data);
  }
  const expand = (text: string) => text.replace(/\$\((\w+)\)/g, (all, name) => env[name] ?? all);
  for (const variable of container.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    const value = fieldPath === undefined ? variable.value : downward[fieldPath];
    if (value === undefined) throw new Error(`No value for env ${variable.name}`);
    env[variable.name] = expand(String(value));
  }
  return { args: (container.args ?? []).map(expand), env };
}
