/**
 * A Sql over Node's built-in SQLite, so core modules written against a Durable Object's
 * `ctx.storage.sql` run in plain Node tests.
 *
 * What it keeps of the DO semantics: `exec(query, ...bindings)` runs one statement at once and
 * returns a cursor whose `toArray()` gives the rows as plain objects; integers come back as
 * numbers, BLOBs as ArrayBuffer. Each call to `memorySql()` is a fresh database; hand the same
 * port to a second instance of a class to simulate the actor being evicted and rebuilt.
 */
import { DatabaseSync, type SQLInputValue, type SQLOutputValue } from "node:sqlite";
import type { Sql, SqlCursor, SqlValue } from "../../../src/core/sql.ts";

export interface TestSql extends Sql {
  /** The underlying database, to look at or tamper with tables directly. */
  readonly db: DatabaseSync;
  /** Every statement run through `exec`, in order. */
  readonly statements: string[];
}

function toInput(value: SqlValue): SQLInputValue {
  // node:sqlite binds typed arrays, not bare ArrayBuffers; DO SQLite takes ArrayBuffer for BLOBs.
  return value instanceof ArrayBuffer ? new Uint8Array(value) : value;
}

function toOutput(value: SQLOutputValue): SqlValue {
  if (value instanceof Uint8Array) {
    return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer;
  }
  if (typeof value === "bigint") return Number(value);
  return value;
}

export function memorySql(): TestSql {
  const db = new DatabaseSync(":memory:");
  const statements: string[] = [];
  return {
    db,
    statements,
    exec<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): SqlCursor<T> {
      statements.push(query);
      const rows = db.prepare(query).all(...bindings.map(toInput));
      const plain = rows.map(
        (row) =>
          Object.fromEntries(
            Object.entries(row).map(([key, value]) => [key, toOutput(value)]),
          ) as T, // the caller names the row shape, as with ctx.storage.sql.exec<T>
      );
      return { toArray: () => plain };
    },
  };
}
