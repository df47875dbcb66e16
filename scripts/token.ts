/**
 * Mint a development token with the local secret:
 *   npm run token -- --user 123 [--username ann] [--staff] [--superuser] [--groups 'consultation_*,group_x']
 *                    [--expires 3600] [--subscription group_name]
 * The secret is JWT_SECRET from the environment, else from .dev.vars, else .dev.vars.example.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";

function secretFromFiles(): string | undefined {
  for (const file of [".dev.vars", ".dev.vars.example"]) {
    if (!existsSync(file)) continue;
    const match = readFileSync(file, "utf8").match(/^\s*JWT_SECRET\s*=\s*"?([^"\n]+)"?\s*$/m);
    if (match?.[1]) return match[1];
  }
  return undefined;
}

const { values } = parseArgs({
  options: {
    user: { type: "string" },
    username: { type: "string" },
    staff: { type: "boolean", default: false },
    superuser: { type: "boolean", default: false },
    groups: { type: "string" },
    expires: { type: "string", default: "3600" },
    subscription: { type: "string" },
  },
});

if (!values.user) {
  console.error(
    "usage: npm run token -- --user <id> [--username name] [--staff] [--groups 'a,b*'] [--expires seconds] [--subscription group]",
  );
  process.exit(2);
}
const expires = Number(values.expires);
if (!Number.isInteger(expires) || expires <= 0) {
  console.error("--expires must be a positive number of seconds");
  process.exit(2);
}
const secret = process.env.JWT_SECRET ?? secretFromFiles();
if (!secret) {
  console.error("no JWT_SECRET in the environment, .dev.vars or .dev.vars.example");
  process.exit(2);
}

// A subscription token only lets `join_group { token }` into that one group; the gateway
// refuses it as a connection token (docs/protocol.md, "Authentication").
const claims: Record<string, unknown> = values.subscription
  ? { token_type: "subscription", group: values.subscription }
  : {
      token_type: "access",
      user_id: values.user,
      ...(values.username ? { username: values.username } : {}),
      ...(values.staff ? { is_staff: true } : {}),
      ...(values.superuser ? { is_superuser: true } : {}),
      ...(values.groups
        ? {
            groups: values.groups
              .split(",")
              .map((g) => g.trim())
              .filter(Boolean),
          }
        : {}),
    };
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(values.user)
  .setIssuedAt(now)
  .setExpirationTime(now + expires)
  .sign(new TextEncoder().encode(secret));
console.log(token);
