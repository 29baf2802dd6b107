// A statement built from data-modifying CTEs, so one round trip writes many tables and many rows. Rows go in as a
// VALUES list of parameters when they are few, and as unnest() over one array parameter per column when they are
// many: measured on PGlite, a lone command's write costs 1.69 ms as VALUES against 1.83 ms as unnest, and a batch of
// 64 sessions' ticks 1.08 ms per session as VALUES against 0.61 ms as unnest (parameters and plan stay small).
/** Up to this many rows go in as a VALUES list; more as unnest() over arrays. */
const VALUES_MAX_ROWS = 4;

export class CteStatement {
  private readonly parts: string[] = [];
  readonly params: unknown[] = [];

  /** Adds a parameter; returns its placeholder, cast when `type` is given (`$3::uuid[]`). */
  param(value: unknown, type?: string): string {
    this.params.push(value);
    return type ? `$${this.params.length}::${type}` : `$${this.params.length}`;
  }

  /**
   * A query producing `rows` (each cast to its column's type): `VALUES ($1::uuid, $2::int), ...` for a few rows,
   * `SELECT * FROM unnest($1::uuid[], $2::int[])` for many. Use it as `INSERT INTO t (cols) <rows>` or
   * `FROM (<rows>) AS v(cols)`.
   */
  rows(rows: ReadonlyArray<readonly unknown[]>, types: readonly string[]): string {
    if (rows.length <= VALUES_MAX_ROWS)
      return `VALUES ${rows.map((row) => `(${row.map((v, i) => this.param(v, types[i])).join(", ")})`).join(", ")}`;
    // jsonb travels as text in the arrays (a JS array of JSON strings is a text[]) and is cast back per row.
    const columns = types.map((type, i) =>
      this.param(
        rows.map((row) => row[i]),
        `${type === "jsonb" ? "text" : type}[]`,
      ),
    );
    const names = types.map((_, i) => `c${i}`);
    const select = types.map((type, i) => (type === "jsonb" ? `c${i}::jsonb` : `c${i}`));
    return `SELECT ${select.join(", ")} FROM unnest(${columns.join(", ")}) AS u(${names.join(", ")})`;
  }

  /**
   * `name AS (INSERT INTO table (columns) <rows> [suffix])`, for rows that are there: `columns` maps each column to
   * its type, in the order of each row's values.
   */
  insert(
    name: string,
    table: string,
    columns: Record<string, string>,
    rows: ReadonlyArray<readonly unknown[]>,
    suffix = "",
  ): void {
    if (rows.length === 0) return;
    const names = Object.keys(columns);
    this.with(
      name,
      `INSERT INTO ${table} (${names.join(", ")}) ${this.rows(rows, Object.values(columns))}${suffix ? ` ${suffix}` : ""}`,
    );
  }

  /** `name AS (sql)`: executed with the statement whether or not the main query reads it. */
  with(name: string, sql: string): void {
    this.parts.push(`${name} AS (${sql})`);
  }

  get empty(): boolean {
    return this.parts.length === 0;
  }

  sql(main: string): string {
    return this.parts.length === 0 ? main : `WITH ${this.parts.join(",\n")}\n${main}`;
  }
}
