// The monitoring page's server: routes, the event stream (snapshot first, then changes), a browser that goes away
// mid-stream, a port already in use (also through `sota-module --web`), and plan reloads that fail or succeed.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { main as moduleMain } from "../../../tools/module/cli.js";
import { parsePlan } from "../../../tools/module/plan.js";
import { MonitorHub } from "../../../tools/web/hub.js";
import { reloadPlan, startModuleObservers } from "../../../tools/web/module-observers.js";
import { WebServerError, startWebServer } from "../../../tools/web/server.js";
import type { WebServer } from "../../../tools/web/server.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return fetch(url).then(async (r) => ({
    status: r.status,
    type: r.headers.get("content-type") ?? "",
    body: await r.text(),
  }));
}

/** Opens the event stream and collects its events until `until` says enough (or 5 s). */
function readEvents(
  url: string,
  until: (events: Array<{ event: string; data: unknown }>) => boolean,
): Promise<{ events: Array<{ event: string; data: unknown }>; request: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const events: Array<{ event: string; data: unknown }> = [];
    let buffer = "";
    const request = http.get(url, (res) => {
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
        if (until(events)) resolve({ events, request });
      });
    });
    request.on("error", reject);
    setTimeout(() => reject(new Error(`events so far: ${events.map((e) => e.event)}`)), 5000).unref();
  });
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("tools/web server", function () {
  this.timeout(20_000);
  let server: WebServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves the page, a JSON snapshot, the timeline and 404 for the rest, on 127.0.0.1", async () => {
    const hub = new MonitorHub({ deviceId: "unit-1" });
    server = await startWebServer({ hub, port: 0, timeline: () => "<svg/>" });
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(server.url);
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /<title>sota-module: live monitoring<\/title>/);
    const state = await get(`${server.url}state.json`);
    assert.equal((JSON.parse(state.body) as { module: { deviceId: string } }).module.deviceId, "unit-1");
    const svg = await get(`${server.url}timeline.svg`);
    assert.deepEqual([svg.status, svg.type, svg.body], [200, "image/svg+xml", "<svg/>"]);
    assert.equal((await get(`${server.url}nothing`)).status, 404);
    assert.equal((await get(`${server.url}api/reload-plan`)).status, 405);
    // A page from another host name (DNS rebinding) is refused.
    const rebound = await new Promise<number>((resolve, reject) => {
      http
        .get(`${server!.url}state.json`, { headers: { Host: `evil.example:${server!.port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on("error", reject);
    });
    assert.equal(rebound, 403);
  });

  it("streams a snapshot, then every change; a browser that disconnects mid-stream is dropped, the others go on", async () => {
    const hub = new MonitorHub();
    server = await startWebServer({ hub, port: 0 });
    const url = `${server.url}events`;
    const first = readEvents(url, (events) => events.some((e) => e.event === "log"));
    const leaving = readEvents(url, (events) => events.some((e) => e.event === "log"));
    await waitFor(() => server!.clients() === 2, "two clients");
    hub.trace({ time: 10, kind: "urc", text: "RDY" });
    const [a, b] = await Promise.all([first, leaving]);
    assert.equal(a.events[0]!.event, "snapshot");
    assert.deepEqual(a.events[1], {
      event: "log",
      data: { update: false, entry: { id: 1, t: 0, kind: "urc", text: "RDY" } },
    });
    // The second browser goes away in the middle of the stream.
    b.request.destroy();
    await waitFor(() => server!.clients() === 1, "the closed stream to go");
    for (let i = 0; i < 50; i++) hub.trace({ time: 20 + i, kind: "rx", text: `AT+TEST${i}` });
    const third = await readEvents(url, (events) => events.length >= 1);
    const snapshot = third.events[0]!.data as { log: Array<{ text: string }> };
    assert.equal(snapshot.log.length, 51);
    assert.equal(snapshot.log[50]!.text, "AT+TEST49");
    third.request.destroy();
    a.request.destroy();
    await waitFor(() => server!.clients() === 0, "all streams closed");
  });

  it("a port already in use: a clear error, and `sota-module --web` exits 1 before opening anything", async () => {
    const hub = new MonitorHub();
    server = await startWebServer({ hub, port: 0 });
    await assert.rejects(
      startWebServer({ hub, port: server.port }),
      (error: Error) =>
        error instanceof WebServerError &&
        error.message ===
          `--web: port 127.0.0.1:${server!.port} is already in use (another sota-module --web?); choose another port`,
    );
    let out = "";
    let err = "";
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
    const pty = path.join(os.tmpdir(), `web-test-${process.pid}`);
    const plan = path.join(ROOT, "examples/plan.json");
    assert.equal(await moduleMain(["--plan", plan, "--pty", pty, "--web", String(server.port)], io), 1);
    assert.equal(
      err,
      `sota-module: --web: port 127.0.0.1:${server.port} is already in use (another sota-module --web?); choose another port\n`,
    );
    assert.equal(out, "");
    assert.equal(fs.existsSync(pty), false, "no pty was made");
    err = "";
    assert.equal(await moduleMain(["--plan", plan, "--pty", pty, "--web", "http"], io), 1);
    assert.equal(err, `sota-module: --web: expected a port number 0-65535, got "http"\n`);
    err = "";
    assert.equal(await moduleMain(["--plan", plan, "--pty", pty, "--web-host", "0.0.0.0"], io), 1);
    assert.equal(err, "sota-module: --web-host needs --web PORT\n");
  });

  it("a plan reload with an error says so and keeps the plan served; a good one replaces it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "web-plan-"));
    const planFile = path.join(dir, "plan.json");
    const good = (target: string, pkg: string) =>
      JSON.stringify({
        product: "",
        components: [{ id: "MCU", type: "full", targetVersion: target, package: pkg }],
      });
    fs.writeFileSync(path.join(dir, "a.bin"), new Uint8Array(100));
    fs.writeFileSync(path.join(dir, "b.bin"), new Uint8Array(200));
    fs.writeFileSync(planFile, good("2.0.0", "a.bin"));
    const plan = parsePlan(fs.readFileSync(planFile, "utf8"));
    const packages = new Map([["a.bin", new Uint8Array(100)]]);
    let err = "";
    let out = "";
    const observers = await startModuleObservers({
      web: "0",
      planFile,
      plan,
      packages,
      faults: [],
      out: (t) => void (out += t),
      err: (t) => void (err += t),
    });
    assert.ok(typeof observers !== "number");
    server = observers.server!;
    assert.equal(out, `monitoring page: ${server.url}\n`);
    const reload = () =>
      fetch(`${server!.url}api/reload-plan`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { ok: boolean; message: string },
      }));

    fs.writeFileSync(planFile, '{ "components": [ { "id": "MCU", ');
    const broken = await reload();
    assert.equal(broken.status, 400);
    assert.equal(broken.body.ok, false);
    assert.match(broken.body.message, /^plan reload failed, still serving the previous plan: /);
    assert.equal(err, `sota-module: ${broken.body.message}\n`);
    assert.deepEqual(
      plan.components.map((c) => c.targetVersion),
      ["2.0.0"],
    );
    const state = JSON.parse((await get(`${server.url}state.json`)).body) as {
      planMessage: { ok: boolean; text: string };
      plans: Array<{ targetVersion: string }>;
    };
    assert.deepEqual(state.planMessage, { ok: false, text: broken.body.message });
    assert.deepEqual(
      state.plans.map((p) => p.targetVersion),
      ["2.0.0"],
    );

    fs.writeFileSync(planFile, good("3.0.0", "missing.bin"));
    assert.match(
      (await reload()).body.message,
      /^plan reload failed, still serving the previous plan: ENOENT/,
    );
    fs.writeFileSync(path.join(dir, "a.bin"), new Uint8Array(100).fill(1));
    fs.writeFileSync(planFile, good("3.0.0", "a.bin"));
    assert.equal(
      (await reload()).body.message,
      "plan reload failed, still serving the previous plan: package a.bin changed on disk: give the new package another file name",
    );

    fs.writeFileSync(planFile, good("3.0.0", "b.bin"));
    const ok = await reload();
    assert.deepEqual(ok, { status: 200, body: { ok: true, message: "plan reloaded: MCU → 3.0.0" } });
    assert.deepEqual(
      plan.components.map((c) => [c.targetVersion, c.package]),
      [["3.0.0", "b.bin"]],
    );
    assert.equal(packages.get("b.bin")!.length, 200);
    await observers.close();
    server = undefined;
    // Unchanged settings/faults need no restart note; changed ones get it.
    fs.writeFileSync(
      planFile,
      JSON.stringify({ ...JSON.parse(good("3.0.0", "b.bin")), settings: { freeSpace: 8192 } }),
    );
    assert.equal(
      reloadPlan(planFile, plan, packages).message,
      "plan reloaded: MCU → 3.0.0 (settings and faults changes need a restart)",
    );
  });
});
