// The public surface of @backchannel/common: server and client import from here only.

export * from "./api";
export * from "./dashboard";
export * from "./engine";
export * from "./errors";
export * from "./matching";
export * from "./money";
export * from "./notices";
export * from "./protocol";
export * from "./random";
export * from "./rounding";
export * from "./rules";
export * from "./settlement";
export * from "./view-apply";
export * from "./visibility";
