// A statement built from data-modifying CTEs, so one round trip writes many tables and many rows. Rows go in as
// VALUES lists of parameters: measured against unnest() over array parameters, planning them is cheaper (on PGlite
// the unnest form cost more than the round trips it saved).
export class CteStatement {
  private readonly parts: string[] = [];
  readonly params: unknown[] = [];

  /** Adds a parameter; returns its placeholder, cast when `type` is given (`$3::uuid[]`). */
  param(value: unknown, type?: string): string {
    this.params.push(value);
    return type ? `$${this.params.length}::${type}` : `$${this.params.length}`;
  }

  /** A VALUES list, every parameter cast to its column's type: `($1::uuid, $2::int), ($3::uuid, $4::int)`. */
  values(rows: ReadonlyArray<readonly unknown[]>, types: readonly string[]): string {
    return rows.map((row) => `(${row.map((v, i) => this.param(v, types[i])).join(", ")})`).join(", ");
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
