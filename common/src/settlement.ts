// The settlement: what a deal's documents say. Pure (no I/O), shared by the web client's summary, the deal mail and
// the PDF. Starts with how the terms mark the place of the amount.

/**
 * A blank in the terms, where the settlement amount goes: three or more underscores, optionally after a currency
 * sign "$" ("$_____", "_____"). The terms editor shows it while editing; at a deal the amount fills it.
 */
export const TERMS_BLANK = /\$?_{3,}/g;

/** What the terms editor suggests typing for the amount's place. */
export const TERMS_BLANK_EXAMPLE = "$_____";

/** Whether terms mark a place for the amount. */
export function hasTermsBlank(terms: string): boolean {
  return new RegExp(TERMS_BLANK.source).test(terms);
}

/** Fills each blank of the terms with the amount; with no blank, the amount is appended on its own line. */
export function fillTermsBlank(terms: string, amount: string): string {
  if (!hasTermsBlank(terms))
    return `${terms.replace(/\s+$/, "")}${terms.trim() ? "\n" : ""}Amount: ${amount}`;
  return terms.replace(new RegExp(TERMS_BLANK.source, "g"), () => amount);
}
