/**
 * The verified identity travels from the Worker to an actor in one internal header. The Worker
 * deletes any client-sent copy before setting it, so an actor can trust it (docs/design.md).
 */
import * as v from "valibot";
import type { Principal, TokenSource } from "./auth.ts";
import { PrincipalSchema } from "./auth.ts";

export const IDENTITY_HEADER = "X-Realtime-Identity";

const IdentitySchema = v.object({
  principal: PrincipalSchema,
  /** The 101 must answer subprotocol `bearer` when the token came that way. */
  source: v.picklist(["query", "subprotocol", "header"]),
});

export type Identity = v.InferOutput<typeof IdentitySchema>;

export function encodeIdentity(principal: Principal, source: TokenSource): string {
  return JSON.stringify({ principal, source });
}

export function decodeIdentity(header: string | null): Identity | null {
  if (header === null) return null;
  try {
    const result = v.safeParse(IdentitySchema, JSON.parse(header));
    return result.success ? result.output : null;
  } catch {
    return null;
  }
}
