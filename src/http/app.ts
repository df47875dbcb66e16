/**
 * The stateless front: parse, authenticate, route. It never holds a socket.
 */
import { Hono } from "hono";
import { ConfigError, loadConfig } from "../core/config.ts";
import { GatewayError, toGatewayError } from "../protocol/errors.ts";
import { api } from "./api/index.ts";
import { demoPage } from "./demo.ts";
import { errorResponse } from "./errors.ts";
import { health } from "./health.ts";
import type { AppEnv } from "./types.ts";
import { consultationSocket, groupSocket, userSocket } from "./ws-routes.ts";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    c.set("config", loadConfig(c.env));
    await next();
  });

  app.get("/", () => demoPage());
  app.get("/health", health);
  app.route("/api/v1", api);
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
