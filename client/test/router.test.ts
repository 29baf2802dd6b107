import { describe, expect, it } from "vitest";
import { matchRoute, safeNext } from "../src/router";

describe("routes", () => {
  it("matches every page", () => {
    expect(matchRoute("/")).toEqual({ name: "home" });
    expect(matchRoute("/signin?next=%2Finvite%2Fabc")).toEqual({ name: "signin", next: "/invite/abc" });
    expect(matchRoute("/signup")).toEqual({ name: "signup", next: null });
    expect(matchRoute("/invite/tok_123-x")).toEqual({ name: "invite", token: "tok_123-x" });
    expect(matchRoute("/sessions/6f1c1c52-6a0e-4a53-9d2b-0a4b8e3f1a10/")).toEqual({
      name: "session",
      id: "6f1c1c52-6a0e-4a53-9d2b-0a4b8e3f1a10",
    });
    expect(matchRoute("/settings/notifications")).toEqual({ name: "notificationSettings" });
    expect(matchRoute("/unsubscribe?token=abc_DEF-123")).toEqual({
      name: "unsubscribe",
      token: "abc_DEF-123",
    });
    expect(matchRoute("/unsubscribe")).toEqual({ name: "unsubscribe", token: null });
    expect(matchRoute("/nowhere")).toEqual({ name: "notFound" });
  });

  it("returns only to paths on this site after signing in", () => {
    expect(safeNext("/sessions/1")).toBe("/sessions/1");
    expect(safeNext("https://evil.example")).toBeNull();
    expect(safeNext("//evil.example")).toBeNull();
    expect(safeNext(null)).toBeNull();
    expect(matchRoute("/signin?next=https://evil.example")).toEqual({ name: "signin", next: null });
  });
});
