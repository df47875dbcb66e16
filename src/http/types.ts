import type { Config } from "../core/config.ts";

/** Hono's typing for this app: the Worker's bindings and what middleware puts in the context. */
export type AppEnv = {
  Bindings: Env;
  Variables: { config: Config };
};
