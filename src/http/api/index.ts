/**
 * The HTTP API under /api/v1 (docs/protocol.md, "HTTP API"): authenticate, read the body, run the
 * route's operation, answer JSON. The routes themselves are a table (api/routes.ts).
 */
import { Hono } from "hono";
import type { AppContext } from "../../app/context.ts";
import { toGatewayError } from "../../protocol/errors.ts";
import { errorResponse } from "../errors.ts";
import type { AppEnv } from "../types.ts";
import { authenticateApiCaller } from "./auth.ts";
import { readJsonBody } from "./body.ts";
import { openApiDocument } from "./openapi.ts";
import { ApiRateLimiter } from "./rate-limit.ts";
import { API_ROUTES, type ApiRoute, NO_BODY } from "./routes.ts";

/** `/users/{id}/status` → `/users/:id/status`. */
function routerPath(template: string): string {
  return template.replace(/\{(\w+)\}/g, ":$1");
}

/**
 * Build the router; `appOf` is how routes reach the actors (the Worker entry passes the runtime's,
 * tests in-memory twins). `limiter` counts each caller's requests (one per isolate; see
 * api/rate-limit.ts).
 */
export function createApi(
  appOf: (env: Env) => AppContext,
  limiter: ApiRateLimiter = new ApiRateLimiter(),
): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  api.get("/openapi.json", (c) => c.json(openApiDocument()));

  const register = (route: ApiRoute) => {
    api.on(route.method.toUpperCase(), routerPath(route.path), async (c) => {
      const config = c.get("config");
      const caller = await authenticateApiCaller(c.req.header("Authorization") ?? null, config);
      limiter.take(caller, config.apiRateLimit, Date.now());
      const body =
        route.body === NO_BODY
          ? undefined
          : await readJsonBody(c.req.raw, config.maxFrameBytes, {
              optional: route.bodyOptional === true,
            });
      const result = await route.run({
        params: c.req.param(),
        body,
        caller,
        app: appOf(c.env),
        config,
      });
      c.header("cache-control", "no-store");
      return c.json(result);
    });
  };
  API_ROUTES.forEach(register);

  api.onError((err) => {
    const error = toGatewayError(err);
    if (error.code === "internal") console.error("api:onError", err);
    return errorResponse(error);
  });
  return api;
}
