/**
 * The synchronous SQL surface the actors' SQLite storage offers (`ctx.storage.sql`), reduced
 * to what the core uses, so core modules can run against node:sqlite in unit tests.
 */
export interface SqlCursor<T> {
  toArray(): T[];
}

export interface Sql {
  exec<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): SqlCursor<T>;
}

export type SqlValue = string | number | null | ArrayBuffer;

/**
 * A table created on first write, so actors that never need it (most users never hold a
 * consultation lease) pay nothing for it, not even at every wake.
 */
export class LazyTable {
  private readonly sql: Sql;
  private readonly name: string;
  private readonly ddl: readonly string[];
  private known: boolean | null = null;

  /** `ddl` creates the table `name` (and any companions of it). */
  constructor(sql: Sql, name: string, ddl: readonly string[]) {
    this.sql = sql;
    this.name = name;
    this.ddl = ddl;
  }

  /** Whether the table exists (asked once per instance). */
  exists(): boolean {
    if (this.known === null) {
      const [row] = this.sql
        .exec<{ n: number }>(
          "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
          this.name,
        )
        .toArray();
      this.known = (row?.n ?? 0) > 0;
    }
    return this.known;
  }

  ensure(): void {
    if (this.exists()) return;
    for (const statement of this.ddl) this.sql.exec(statement);
    this.known = true;
  }
}
