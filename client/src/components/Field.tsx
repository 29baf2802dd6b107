import { type ReactNode, useId } from "react";

/**
 * A labelled control. The label points at the control by id rather than wrapping it, so a select's
 * accessible name is its label alone, not the label plus the chosen option.
 */
export function Field(props: {
  label: ReactNode;
  hint?: ReactNode;
  className?: string;
  children: (id: string) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={`field ${props.className ?? ""}`}>
      <label htmlFor={id}>
        {props.label}
        {props.hint && <span className="hint"> {props.hint}</span>}
      </label>
      {props.children(id)}
    </div>
  );
}
