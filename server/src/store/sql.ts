// A statement built from data-modifying CTEs, so one round trip writes many tables (and many rows, via unnest: the
// parameter count stays fixed whatever the batch size, and each array is one parameter).
export class CteStatement {
  private readonly parts: string[] = [];
  readonly params: unknown[] = [];

  /** Adds a parameter; returns its placeholder, cast when `type` is given (`$3::uuid[]`). */
  param(value: unknown, type?: string): string {
    this.params.push(value);
    return type ? `$${this.params.length}::${type}` : `$${this.params.length}`;
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
