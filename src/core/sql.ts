/**
 * The synchronous SQL surface the actors' SQLite storage offers (`ctx.storage.sql`), reduced
 * to what the core uses, so core modules can run against node:sqlite in unit tests.
 */
export interface SqlCursor<T> {
  toArray(): T[];
}

export interface SqlPort {
  exec<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): SqlCursor<T>;
}

export type SqlValue = string | number | null | ArrayBuffer;
