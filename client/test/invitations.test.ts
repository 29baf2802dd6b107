// The invite form offers exactly what the engine allows (see docs/rules.md, "Who takes part").
import { describe, expect, it } from "vitest";
import { invitableRoles } from "../src/pages/session/InvitationsPanel";

type View = Parameters<typeof invitableRoles>[0];
const view = (viewer: Partial<View["viewer"]>, joined: Array<"claimant" | "respondent" | "mediator">): View =>
  ({
    viewer: { userId: "me", role: "claimant", side: "claimant", canBid: true, isCreator: false, ...viewer },
    members: joined.map((role, i) => ({ userId: `u${i}`, name: `U${i}`, role, canBid: true })),
  }) as unknown as View;

describe("invitableRoles", () => {
  it("lets the creator invite a mediator and a side's first member, and its own side", () => {
    expect(invitableRoles(view({ isCreator: true }, ["claimant"]))).toEqual([
      "claimant",
      "respondent",
      "mediator",
    ]);
  });
  it("never offers a joined side to someone outside it, the creator and the mediator included", () => {
    expect(invitableRoles(view({ isCreator: true }, ["claimant", "respondent"]))).toEqual([
      "claimant",
      "mediator",
    ]);
    const mediator = view({ role: "mediator", side: null, canBid: false }, [
      "claimant",
      "respondent",
      "mediator",
    ]);
    expect(invitableRoles(mediator)).toEqual(["mediator"]);
  });
  it("lets a side's bidding member invite to its own side only; a view-only member invites nobody", () => {
    const respondent = view({ role: "respondent", side: "respondent" }, ["claimant", "respondent"]);
    expect(invitableRoles(respondent)).toEqual(["respondent"]);
    expect(invitableRoles({ ...respondent, viewer: { ...respondent.viewer, canBid: false } })).toEqual([]);
  });
});
