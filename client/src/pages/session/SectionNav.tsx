// Links to the sections of the session page, in the order the page shows them (the live state first). They sit in
// the status bar, so any section is one tap away wherever the person is on the page; a followed link scrolls its
// heading to just below the bar (scroll-margin-top, layout.css) and moves the focus there.
import type { MouseEvent } from "react";

export interface SectionLink {
  /** the id of the section's heading */
  id: string;
  label: string;
}

export function SectionNav({ links }: { links: SectionLink[] }) {
  const jump = (e: MouseEvent<HTMLAnchorElement>, id: string) => {
    const heading = document.getElementById(id);
    if (!heading || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    const smooth = !window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
    heading.scrollIntoView({ block: "start", behavior: smooth ? "smooth" : "auto" });
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  };
  return (
    <nav className="section-nav" aria-label="Sections">
      <ul>
        {links.map((l) => (
          <li key={l.id}>
            <a href={`#${l.id}`} onClick={(e) => jump(e, l.id)}>
              {l.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
