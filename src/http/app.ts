/**
 * The stateless front: parse, authenticate, route. It never holds a socket.
 */
import { Hono } from "hono";
import type { AppContext } from "../app/context.ts";
import { ConfigError, loadConfig } from "../core/config.ts";
import { GatewayError, toGatewayError } from "../protocol/errors.ts";
import { createApi } from "./api/index.ts";
import { errorResponse } from "./errors.ts";
import { health } from "./health.ts";
import { metrics } from "./metrics.ts";
import { adminPage, demoPage, pageAsset } from "./pages.ts";
import type { AppEnv } from "./types.ts";
import { consultationSocket, groupSocket, userSocket } from "./ws-routes.ts";

/** `appOf` gives the API routes the actors, clock and ids of a request's environment. */
export function createApp(appOf: (env: Env) => AppContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    c.set("config", loadConfig(c.env));
    await next();
  });

  app.get("/", () => demoPage());
  app.get("/admin", () => adminPage());
  app.get("/admin/", () => adminPage());
  app.get("/assets/:name", (c) => pageAsset(c) ?? c.notFound());
  app.get("/health", health);
  app.get("/metrics", metrics);
  app.route("/api/v1", createApi(appOf));
  app.all("/ws/user", userSocket);
  app.all("/ws/user/", userSocket);
  app.all("/ws/consultation/:id", consultationSocket);
  app.all("/ws/consultation/:id/", consultationSocket);
  app.all("/ws/group/:name", groupSocket);
  app.all("/ws/group/:name/", groupSocket);

  app.notFound(() => errorResponse(new GatewayError("not_found", "no such route")));
  app.onError((err) => {
    if (err instanceof ConfigError) {
      console.error(`worker: ${err.message}`);
      return errorResponse(new GatewayError("internal", err.message));
    }
    const error = toGatewayError(err);
    if (error.code === "internal") console.error("worker:onError", err);
    return errorResponse(error);
  });
  return app;
}
