import type { UserError } from "../api";

/** The server's sentence, as it is: error messages are written for the person at the screen. */
export function ErrorLine({ error }: { error: UserError | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error.message}
      {error.retryAt !== undefined && (
        <>
          {" "}
          (Your local time:{" "}
          {new Date(error.retryAt).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" })}.)
        </>
      )}
    </p>
  );
}
