// The client address every per-address limit keys on: sockets must judge X-Forwarded-For exactly as Express's
// req.ip does under the same TRUST_PROXY, and ignore it when TRUST_PROXY is off.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrustProxy } from "../../src/config";
import { clientAddress, compileTrust, expressTrustSetting } from "../../src/limits";

const SETTINGS: TrustProxy[] = [false, true, 2, ["loopback"], ["10.0.0.0/8"], ["loopback", "10.0.0.0/8"]];
const HEADERS: Array<string | undefined> = [
  undefined,
  "",
  "203.0.113.9",
  "203.0.113.9, 10.1.2.3",
  "198.51.100.7, 203.0.113.9, 10.1.2.3",
  " 203.0.113.9 ,10.1.2.3 ",
  "not-an-address, 10.0.0.1",
];

describe("clientAddress", () => {
  let server: Server;
  let base = "";
  let current: TrustProxy = false;
  const apps = new Map<string, express.Express>();

  beforeAll(async () => {
    for (const setting of SETTINGS) {
      const app = express();
      app.set("trust proxy", expressTrustSetting(setting));
      app.get("/ip", (req, res) => {
        res.json({ ip: req.ip, remote: req.socket.remoteAddress });
      });
      apps.set(JSON.stringify(setting), app);
    }
    server = createServer((req, res) => apps.get(JSON.stringify(current))?.(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("is what req.ip is, for every TRUST_PROXY form and X-Forwarded-For", async () => {
    for (const setting of SETTINGS) {
      current = setting;
      const trust = compileTrust(setting);
      for (const header of HEADERS) {
        const headers: Record<string, string> = header === undefined ? {} : { "x-forwarded-for": header };
        const { ip, remote } = (await (await fetch(`${base}/ip`, { headers })).json()) as {
          ip: string;
          remote: string;
        };
        const ours = clientAddress(remote, header === undefined ? {} : { "x-forwarded-for": header }, trust);
        expect(ours, `TRUST_PROXY=${JSON.stringify(setting)}, X-Forwarded-For: ${header}`).toBe(ip);
      }
    }
  });

  it("ignores X-Forwarded-For when TRUST_PROXY is off, and believes only one hop when it is true", () => {
    const headers = { "x-forwarded-for": "198.51.100.7, 203.0.113.9" };
    expect(clientAddress("10.0.0.2", headers, compileTrust(false))).toBe("10.0.0.2");
    expect(clientAddress("10.0.0.2", headers, compileTrust(true))).toBe("203.0.113.9");
    expect(clientAddress("10.0.0.2", headers, compileTrust(2))).toBe("198.51.100.7");
    expect(clientAddress(undefined, {}, compileTrust(false))).toBe("unknown");
  });
});
