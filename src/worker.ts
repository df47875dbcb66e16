/**
 * The Worker entry: wires the app and re-exports the actors, nothing else.
 */
import { env } from "cloudflare:workers";
import { loadConfig } from "./core/config.ts";
import { createApp } from "./http/app.ts";

// Parse configuration at start-up, so a bad setting fails loudly with its name before the
// first request rather than on it.
loadConfig(env);

export { UserHub } from "./actors/user-hub.ts";
export default createApp();
