/**
 * `edge-realtime-gateway/react`: the `useRealtime` hook over the client SDK. The SDK itself is
 * imported from `edge-realtime-gateway/client` in the built package, so an app using both gets
 * one copy of it (and one `RealtimeError` class for `instanceof`).
 */
export type { LastFrames, Presence, RealtimeSnapshot } from "./realtime-store.ts";
export { RealtimeStore } from "./realtime-store.ts";
export type { UseRealtimeOptions, UseRealtimeResult } from "./use-realtime.ts";
export { useRealtime } from "./use-realtime.ts";
