// Table and column names come from configuration (USERS_TABLE, USERS_ID_COLUMN, …) and cannot be
// bound as query parameters, so they are checked against a strict pattern and then quoted.

/** One SQL identifier: a letter or underscore, then letters, digits, underscores (≤ 63 bytes). */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export class InvalidIdentifierError extends TypeError {
  override readonly name = "InvalidIdentifierError";
  /** The configuration setting that holds the bad value, e.g. "USERS_TABLE". */
  readonly setting: string;
  constructor(setting: string, value: string, expected: string) {
    super(`${setting} must be ${expected}, got ${JSON.stringify(value)}`);
    this.setting = setting;
  }
}

/** `"column"` — a single identifier, validated and double-quoted. */
export function quoteIdentifier(value: string, setting: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new InvalidIdentifierError(
      setting,
      value,
      "a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*)",
    );
  }
  return `"${value}"`;
}

/** `"table"` or `"schema"."table"` — an optionally schema-qualified name, validated and quoted. */
export function quoteTableName(value: string, setting: string): string {
  const parts = value.split(".");
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new InvalidIdentifierError(
      setting,
      value,
      "a table name, optionally schema-qualified (schema.table)",
    );
  }
  return parts.map((part) => `"${part}"`).join(".");
}
