import type { ClientCommandInput } from "@backchannel/common";
import { useCallback, useState } from "react";
import type { UserError } from "../api";
import { sessionController } from "../store/live";

/** Runs one session command for a form or button: busy while it runs, the server's sentence if refused. */
export function useCommand() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UserError | null>(null);
  const run = useCallback(async (command: ClientCommandInput): Promise<boolean> => {
    setBusy(true);
    setError(null);
    const result = await sessionController.command(command);
    setBusy(false);
    if (!result.ok) setError(result);
    return result.ok;
  }, []);
  const clear = useCallback(() => setError(null), []);
  return { run, busy, error, clear };
}
