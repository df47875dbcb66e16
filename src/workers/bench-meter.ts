/**
 * The bench's meter of the work Cloudflare bills per message: Durable Object calls (every
 * stub method call or fetch, counted where it is made) and storage rows written (each SQL
 * statement's `rowsWritten`, each key put or deleted). Off unless BENCH_METER is true: then
 * `GET /__bench/meter` answers the totals since the previous read and starts again from zero.
 * Locally every actor of the Worker runs in one isolate, so these module-scope counters see
 * the whole gateway; on Cloudflare they would see one isolate only, which is why production
 * leaves them off.
 */

import { WRAPPED_ENV } from "../core/config.ts";

export const METER_PATH = "/__bench/meter";
/** The caller name of the Worker's own requests (not an actor). */
const WORKER = "worker";

interface Totals {
  actorCalls: number;
  rowsWritten: number;
  /** Calls by the binding they went to (USER_HUB, FANOUT_SHARD, …). */
  callsByBinding: Record<string, number>;
  /** Calls by the actor (or "worker") that made them. */
  callsByCaller: Map<string, number>;
}

let totals = fresh();

function fresh(): Totals {
  return { actorCalls: 0, rowsWritten: 0, callsByBinding: {}, callsByCaller: new Map() };
}

/** The totals since the previous reading, then zero again. */
export function takeReading() {
  const read = totals;
  totals = fresh();
  let busiest = { caller: "", calls: 0 };
  const busiestByClass: Record<string, number> = {};
  for (const [caller, calls] of read.callsByCaller) {
    // The Worker's requests are not an actor: the bound is on actors.
    if (calls > busiest.calls && caller !== WORKER) busiest = { caller, calls };
    const actorClass = caller.split(":")[0] ?? caller;
    busiestByClass[actorClass] = Math.max(busiestByClass[actorClass] ?? 0, calls);
  }
  return {
    actor_calls: read.actorCalls,
    rows_written: read.rowsWritten,
    calls_by_binding: read.callsByBinding,
    callers: read.callsByCaller.size,
    busiest_caller: busiest,
    /** The most calls one actor of each class (or the Worker) made. */
    busiest_by_class: busiestByClass,
  };
}

function countCall(binding: string, caller: string): void {
  totals.actorCalls++;
  totals.callsByBinding[binding] = (totals.callsByBinding[binding] ?? 0) + 1;
  totals.callsByCaller.set(caller, (totals.callsByCaller.get(caller) ?? 0) + 1);
}

const NOT_CALLS = new Set<PropertyKey>(["then", "id", "name", "constructor", "toString"]);

function meteredStub<S extends object>(stub: S, binding: string, caller: string): S {
  return new Proxy(stub, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function" || NOT_CALLS.has(property)) return value;
      return (...args: unknown[]) => {
        countCall(binding, caller);
        return Reflect.apply(value, target, args);
      };
    },
  });
}

function isNamespace(value: unknown): value is DurableObjectNamespace {
  return (
    typeof value === "object" && value !== null && "getByName" in value && "idFromName" in value
  );
}

/** `env` whose Durable Object bindings count the calls `caller` makes through them. */
export function meteredEnv(env: Env, caller: string): Env {
  return new Proxy(env, {
    get(target, property) {
      if (property === WRAPPED_ENV) return target;
      const value = Reflect.get(target, property);
      if (typeof property !== "string" || !isNamespace(value)) return value;
      return new Proxy(value, {
        get(namespace, method) {
          const member = Reflect.get(namespace, method);
          if (typeof member !== "function") return member;
          if (method !== "get" && method !== "getByName") return member.bind(namespace);
          return (...args: unknown[]) =>
            meteredStub(Reflect.apply(member, namespace, args) as object, property, caller);
        },
      });
    },
  });
}

let storagePatched = false;

/** Count rows written by every actor's storage (patched once, on the shared prototypes). */
function countRowsWritten(storage: DurableObjectStorage): void {
  if (storagePatched) return;
  storagePatched = true;
  const sql = Object.getPrototypeOf(storage.sql) as SqlStorage;
  const exec = sql.exec;
  sql.exec = function (this: SqlStorage, ...args: Parameters<SqlStorage["exec"]>) {
    const cursor = exec.apply(this, args);
    totals.rowsWritten += cursor.rowsWritten;
    return cursor;
  } as SqlStorage["exec"];
  const kv = Object.getPrototypeOf(storage) as DurableObjectStorage;
  const put = kv.put;
  const remove = kv.delete;
  kv.put = function (this: DurableObjectStorage, ...args: unknown[]) {
    const [first] = args;
    totals.rowsWritten += typeof first === "string" ? 1 : Object.keys(first as object).length;
    return Reflect.apply(put, this, args);
  } as DurableObjectStorage["put"];
  kv.delete = function (this: DurableObjectStorage, ...args: unknown[]) {
    const [first] = args;
    totals.rowsWritten += Array.isArray(first) ? first.length : 1;
    return Reflect.apply(remove, this, args);
  } as DurableObjectStorage["delete"];
}

// biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor must take any arguments.
type ActorClass = new (...args: any[]) => object;

/** The actor class, metered when `on` (its calls counted, its rows written counted). */
export function metered<A extends ActorClass>(Actor: A, on: boolean): A {
  if (!on) return Actor;
  const label = Actor.name;
  return class extends Actor {
    // biome-ignore lint/suspicious/noExplicitAny: see ActorClass.
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, Env];
      countRowsWritten(ctx.storage);
      super(ctx, meteredEnv(env, `${label}:${ctx.id.name ?? ctx.id.toString()}`));
    }
  };
}

/** The Worker's fetch handler, metered when `on`, answering METER_PATH. */
export function meteredFetch<H extends { fetch: (...args: never[]) => unknown }>(
  handler: H,
  on: boolean,
): H {
  if (!on) return handler;
  const fetch = (request: Request, env: Env, ctx: ExecutionContext) => {
    if (new URL(request.url).pathname === METER_PATH) return Response.json(takeReading());
    return (handler.fetch as (r: Request, e: Env, c: ExecutionContext) => unknown)(
      request,
      meteredEnv(env, WORKER),
      ctx,
    );
  };
  return { ...handler, fetch } as H;
}
