// After navigation, the focus goes to the page's <h1> (made focusable with tabindex="-1"), not the body: a screen
// reader announces the new page, and the next Tab starts from its top. Never takes the focus from a
// control on the page itself.
import { useEffect } from "react";
import "./focus.css";

/** Focuses `main h1` whenever `key` changes (a new page, or its heading appearing once loaded). */
export function useHeadingFocus(key: unknown): void {
  useEffect(() => {
    if (key === null || key === undefined || key === false) return;
    const heading = document.querySelector<HTMLElement>("main h1");
    if (!heading) return;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    // A control on the new page already has the focus (the person got there first): leave it.
    const active = document.activeElement;
    if (active && active !== heading && heading.closest("main")?.contains(active)) return;
    heading.focus({ preventScroll: true });
  }, [key]);
}
