import { describe, expect, it } from "vitest";
import { listNames, locationPhrase, outcomeSentence, roomAudienceSentence } from "../src/lib/words";

describe("where the mediator is, from each seat", () => {
  it("says 'with you' to the side the mediator is with, and 'with the other side' to the other", () => {
    expect(locationPhrase("with_claimant", "claimant")).toBe("with you");
    expect(locationPhrase("with_claimant", "respondent")).toBe("with the other side");
    expect(locationPhrase("with_respondent", "respondent")).toBe("with you");
    expect(locationPhrase("with_respondent", "claimant")).toBe("with the other side");
  });

  it("names the side for the mediator", () => {
    expect(locationPhrase("with_respondent", null)).toBe("with the respondent side");
  });

  it("reads the other places, with an optional time", () => {
    expect(locationPhrase("private", "claimant")).toBe("reviewing privately");
    expect(locationPhrase("joint", "claimant")).toBe("in joint session");
    expect(locationPhrase("break", "respondent", "2:30 PM")).toBe("on a break until 2:30 PM");
    expect(locationPhrase("away", null)).toBe("away");
  });
});

describe("who will see a message", () => {
  const members = {
    claimant: ["Claire"],
    respondent: ["Ray", "Rita"],
    mediator: ["Mia"],
  } as const;
  const names = (role: "claimant" | "respondent" | "mediator") => [...members[role]];

  it("caucus: the own side and the mediator, and says the other side will not", () => {
    const s = roomAudienceSentence("caucus:respondent", "respondent", names);
    expect(s).toBe(
      "Who will see this: you, the rest of your side (Ray and Rita) and the mediator (Mia). The claimant side will not see it.",
    );
  });

  it("side-only room: the own side alone, never the mediator", () => {
    expect(roomAudienceSentence("side:claimant", "claimant", () => [])).toBe(
      "Who will see this: only you, until others join your side. The mediator and the other side will not see it.",
    );
  });

  it("joint room: everyone, by name", () => {
    expect(roomAudienceSentence("joint", "claimant", names)).toBe(
      "Who will see this: everyone in the session — you, the rest of your side (Claire), the respondent side (Ray and Rita) and the mediator (Mia).",
    );
    expect(roomAudienceSentence("joint", null, (role) => (role === "mediator" ? [] : names(role)))).toBe(
      "Who will see this: everyone in the session — you, the claimant side (Claire) and the respondent side (Ray and Rita).",
    );
  });

  it("caucus seen by the mediator names that side", () => {
    expect(roomAudienceSentence("caucus:claimant", null, names)).toContain(
      "the claimant side (Claire) and the mediators",
    );
  });
});

describe("sentences", () => {
  it("lists names in plain English", () => {
    expect(listNames([])).toBe("");
    expect(listNames(["Ann"])).toBe("Ann");
    expect(listNames(["Ann", "Bob", "Cy"])).toBe("Ann, Bob and Cy");
  });

  it("says who withdrew, and that the numbers are gone", () => {
    expect(outcomeSentence("withdrawn", "respondent")).toBe(
      "The session ended: the respondent side withdrew. No deal. The confidential numbers have been destroyed.",
    );
  });
});
