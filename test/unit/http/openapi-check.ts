/**
 * Structural checks of an OpenAPI 3.1 document (no validator package is installed): the fields
 * the specification requires, path templates matching declared path parameters, unique
 * operation ids, declared security schemes, and every `$ref` resolving inside the document.
 * Returns the problems found; an empty list means the document passed.
 */
import * as v from "valibot";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

const ResponseSchema = v.object({
  description: v.string(),
  content: v.optional(v.record(v.string(), v.unknown())),
});
const OperationSchema = v.object({
  operationId: v.string(),
  responses: v.pipe(
    v.record(v.pipe(v.string(), v.regex(/^([1-5]\d\d|[1-5]XX|default)$/)), ResponseSchema),
    v.check((responses) => Object.keys(responses).length > 0, "has no responses"),
  ),
  parameters: v.optional(
    v.array(
      v.object({
        name: v.string(),
        in: v.picklist(["path", "query", "header", "cookie"]),
        required: v.optional(v.boolean()),
        schema: v.record(v.string(), v.unknown()),
      }),
    ),
  ),
  requestBody: v.optional(v.object({ content: v.record(v.string(), v.unknown()) })),
  security: v.optional(v.array(v.record(v.string(), v.array(v.string())))),
});
const DocumentSchema = v.object({
  openapi: v.pipe(v.string(), v.regex(/^3\.1\.\d+$/, "must be 3.1.x")),
  info: v.object({ title: v.string(), version: v.string() }),
  paths: v.record(v.pipe(v.string(), v.startsWith("/")), v.record(v.string(), v.unknown())),
  components: v.optional(
    v.object({
      schemas: v.optional(v.record(v.string(), v.unknown())),
      responses: v.optional(v.record(v.string(), v.unknown())),
      securitySchemes: v.optional(
        v.record(
          v.string(),
          v.object({
            type: v.picklist(["apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"]),
          }),
        ),
      ),
    }),
  ),
  security: v.optional(v.array(v.record(v.string(), v.array(v.string())))),
});

/** `#/a/b~1c` → the value at that JSON pointer (RFC 6901), or undefined. */
function resolvePointer(document: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = document;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof node !== "object" || node === null || !(key in node)) return undefined;
    node = Reflect.get(node, key);
  }
  return node;
}

function collectRefs(node: unknown, into: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) collectRefs(item, into);
  else if (typeof node === "object" && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") into.push(value);
      else collectRefs(value, into);
    }
  }
  return into;
}

export interface DocumentedOperation {
  method: string;
  path: string;
}

export function checkOpenApi(document: unknown): {
  problems: string[];
  operations: DocumentedOperation[];
} {
  const problems: string[] = [];
  const operations: DocumentedOperation[] = [];
  const parsed = v.safeParse(DocumentSchema, document);
  if (!parsed.success) {
    return {
      problems: parsed.issues.map((i) => `${v.getDotPath(i) ?? "document"}: ${i.message}`),
      operations,
    };
  }
  const doc = parsed.output;
  const schemes = new Set(Object.keys(doc.components?.securitySchemes ?? {}));
  const checkSecurity = (where: string, security: Record<string, string[]>[] | undefined) => {
    for (const requirement of security ?? []) {
      for (const name of Object.keys(requirement)) {
        if (!schemes.has(name)) problems.push(`${where}: security scheme ${name} is not declared`);
      }
    }
  };
  checkSecurity("document", doc.security);
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, raw] of Object.entries(item)) {
      if (!(METHODS as readonly string[]).includes(method)) {
        problems.push(`${path}: ${method} is not an HTTP method`);
        continue;
      }
      const where = `${method.toUpperCase()} ${path}`;
      operations.push({ method, path });
      const op = v.safeParse(OperationSchema, raw);
      if (!op.success) {
        problems.push(...op.issues.map((i) => `${where}: ${v.getDotPath(i) ?? ""} ${i.message}`));
        continue;
      }
      if (operationIds.has(op.output.operationId)) {
        problems.push(`${where}: duplicate operationId ${op.output.operationId}`);
      }
      operationIds.add(op.output.operationId);
      const pathParams = (op.output.parameters ?? []).filter((p) => p.in === "path");
      for (const name of templated) {
        const param = pathParams.find((p) => p.name === name);
        if (param === undefined)
          problems.push(`${where}: path parameter {${name}} is not declared`);
        else if (param.required !== true)
          problems.push(`${where}: path parameter ${name} must be required`);
      }
      for (const param of pathParams) {
        if (!templated.includes(param.name))
          problems.push(`${where}: ${param.name} is not in the path`);
      }
      checkSecurity(where, op.output.security);
    }
  }
  for (const ref of collectRefs(document)) {
    if (resolvePointer(document, ref) === undefined) problems.push(`$ref ${ref} does not resolve`);
  }
  return { problems, operations };
}
