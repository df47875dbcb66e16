/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table and its valibot
 * schemas with @valibot/to-json-schema (OpenAPI 3.1 schemas are JSON Schema 2020-12).
 */
import { type JsonSchema, toJsonSchema, toJsonSchemaDefs } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { type ErrorCode, httpStatusOf } from "../../protocol/errors.ts";
import { API_ROUTES, type ApiRoute, NO_BODY } from "./routes.ts";
import {
  BroadcastBodySchema,
  DirectMessageBodySchema,
  DirectMessageResultSchema,
  ErrorBodySchema,
  FanoutResultSchema,
  GroupMessageBodySchema,
  HealthResultSchema,
  NotificationBodySchema,
  NotificationResultSchema,
  OnlineUserSchema,
  OnlineUsersResultSchema,
  TerminateConnectionsBodySchema,
  TerminateConnectionsResultSchema,
  UserStatusResultSchema,
} from "./schemas.ts";

/** Where the router is mounted (src/http/app.ts). */
export const API_PREFIX = "/api/v1";

/** Errors every authenticated route may answer with. */
const COMMON_ERRORS: readonly ErrorCode[] = [
  "unauthorized",
  "forbidden",
  "rate_limited",
  "unavailable",
];

/** Named schemas, emitted once under components.schemas and referenced by $ref. */
const COMPONENTS = {
  NotificationBody: NotificationBodySchema,
  NotificationResult: NotificationResultSchema,
  DirectMessageBody: DirectMessageBodySchema,
  DirectMessageResult: DirectMessageResultSchema,
  BroadcastBody: BroadcastBodySchema,
  GroupMessageBody: GroupMessageBodySchema,
  FanoutResult: FanoutResultSchema,
  TerminateConnectionsBody: TerminateConnectionsBodySchema,
  TerminateConnectionsResult: TerminateConnectionsResultSchema,
  UserStatus: UserStatusResultSchema,
  OnlineUser: OnlineUserSchema,
  OnlineUsers: OnlineUsersResultSchema,
  Health: HealthResultSchema,
  Error: ErrorBodySchema,
};

// `data` (any JSON value) is checked with v.check and v.rawCheck (json-data.ts), which have no
// JSON Schema form: `{}` is right, and the rules are in the description.
const CONVERSION = {
  target: "draft-2020-12" as const,
  typeMode: "input" as const,
  ignoreActions: ["check", "raw_check"],
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** to-json-schema refers to `#/$defs/X`; in OpenAPI the definitions live in components. */
function relocateRefs(value: unknown): Json {
  if (Array.isArray(value)) return value.map(relocateRefs);
  if (typeof value === "object" && value !== null) {
    const out: { [key: string]: Json } = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        key === "$ref" && typeof item === "string"
          ? item.replace(/^#\/\$defs\//, "#/components/schemas/")
          : relocateRefs(item);
    }
    return out;
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  return null;
}

function schemaRef(schema: v.GenericSchema): Json {
  const name = Object.entries(COMPONENTS).find(([, candidate]) => candidate === schema)?.[0];
  if (name !== undefined) return { $ref: `#/components/schemas/${name}` };
  const { $schema: _, ...json }: JsonSchema = toJsonSchema(schema, CONVERSION);
  return relocateRefs(json);
}

function jsonContent(schema: v.GenericSchema): Json {
  return { "application/json": { schema: schemaRef(schema) } };
}

/** One response per status; a status shared by several codes lists them all. */
function errorResponses(codes: readonly ErrorCode[]): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = httpStatusOf(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        String(status),
        {
          description: `Error: ${list.map((code) => `\`${code}\``).join(", ")}`,
          content: jsonContent(ErrorBodySchema),
        },
      ]),
  );
}

function operation(route: ApiRoute): Json {
  const parameters = Object.entries(route.params).map(([name, schema]) => ({
    name,
    in: "path",
    required: true,
    schema: schemaRef(schema),
  }));
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: route.description,
    tags: ["realtime"],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === NO_BODY
      ? {}
      : {
          requestBody: { required: route.bodyOptional !== true, content: jsonContent(route.body) },
        }),
    responses: {
      "200": { description: "Success", content: jsonContent(route.result) },
      ...errorResponses([...new Set([...route.errors, ...COMMON_ERRORS])]),
    },
  };
}

export function buildOpenApiDocument(): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of API_ROUTES) {
    const path = `${API_PREFIX}${route.path}`;
    paths[path] = { ...paths[path], [route.method]: operation(route) };
  }
  paths[`${API_PREFIX}/openapi.json`] = {
    get: {
      operationId: "getOpenApiDocument",
      summary: "This document",
      tags: ["meta"],
      security: [],
      responses: {
        "200": {
          description: "The OpenAPI 3.1 document",
          content: { "application/json": { schema: { type: "object" } } },
        },
      },
    },
  };
  paths["/health"] = {
    get: {
      operationId: "getHealth",
      summary: "Gateway and mirror health",
      description: "200 while the gateway serves; each mirror is `ok`, `off` or `behind`.",
      tags: ["meta"],
      security: [],
      responses: { "200": { description: "Health", content: jsonContent(HealthResultSchema) } },
    },
  };
  paths["/metrics"] = {
    get: {
      operationId: "getMetrics",
      summary: "Prometheus metrics",
      description:
        "Prometheus text exposition format 0.0.4; the API key or a staff JWT. docs/operations.md lists the metrics and how stale each can be.",
      tags: ["meta"],
      responses: {
        "200": {
          description: "The metrics",
          content: { "text/plain; version=0.0.4": { schema: { type: "string" } } },
        },
        ...errorResponses(["unauthorized", "forbidden", "unavailable"]),
      },
    },
  };
  const schemas = relocateRefs(toJsonSchemaDefs(COMPONENTS, CONVERSION));
  return {
    openapi: "3.1.0",
    info: {
      title: "Realtime gateway HTTP API",
      version: "1.0.0",
      description:
        'Server-side sends and presence queries (docs/protocol.md, "HTTP API"). Authenticate with ' +
        "`Authorization: Bearer <API_KEY>` or a staff/superuser JWT. Errors are " +
        "`{ error: { code, message, details? } }`.",
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    security: [{ bearerAuth: [] }],
    tags: [
      { name: "realtime", description: "Messaging and presence" },
      { name: "meta", description: "Documents and health" },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "The gateway's API_KEY, or a JWT whose user is staff or superuser.",
        },
      },
    },
  };
}

let cached: Json | undefined;

/** The document, built once per isolate. */
export function openApiDocument(): Json {
  cached ??= buildOpenApiDocument();
  return cached;
}
