// What the server's worker threads share: where a thread starts from, and how an error crosses back. Two threads today,
// each beside the event loop so that its work holds no socket, ack or health check: the embedded database
// (store/pglite-thread.ts) and mail composition (notify/mail-thread.ts).

/**
 * Where the thread `name` starts, for code at `callerUrl` (its import.meta.url): the built server's dist/<name>.mjs
 * (server/build.mjs bundles each thread beside the code that starts it); from the TypeScript sources (tests, `npm run
 * dev`), thread-boot.mjs, which loads `<name>.ts` beside the caller through tsx (pass `entry` in workerData), since a
 * worker thread does not inherit the parent's TypeScript loader.
 */
export function threadEntry(callerUrl: string, name: string): { url: URL; entry?: string } {
  if (callerUrl.endsWith(".ts"))
    return {
      url: new URL("./thread-boot.mjs", import.meta.url),
      entry: new URL(`./${name}.ts`, callerUrl).href,
    };
  return { url: new URL(`./${name}.mjs`, callerUrl) };
}

export type ErrorFields = { message: string } & Record<string, string | number | boolean | null>;

/** What of an error crosses from a thread: its message, name and own plain fields (a database error's code...). */
export function errorFields(err: unknown): ErrorFields {
  if (!(err instanceof Error)) return { message: String(err) };
  const fields: ErrorFields = { message: err.message, name: err.name };
  for (const [key, value] of Object.entries(err))
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) fields[key] = value;
  return fields;
}

/** The error again, thrown on this side with this thread's stack. */
export function toError(fields: ErrorFields): Error {
  const { message, ...rest } = fields;
  return Object.assign(new Error(message), rest);
}
