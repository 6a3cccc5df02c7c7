// The monitoring page in a real browser (Debian's chromium driven by puppeteer-core): it loads, shows the live
// progress of an update this test runs (virtual module + host-mode device on the simulated link), survives another
// browser leaving mid-stream, and ends with the success state and the final event. Screenshots go to test/artifacts/.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";
import type { Browser } from "puppeteer-core";
import { parseFaultSpec } from "../../../tools/module/faults.js";
import { TimelineRecorder } from "../../../tools/timeline/events.js";
import { timelineSvg } from "../../../tools/timeline/svg.js";
import { MonitorHub } from "../../../tools/web/hub.js";
import { startWebServer } from "../../../tools/web/server.js";
import type { WebServer } from "../../../tools/web/server.js";
import { feedHub } from "./feed.js";

// The page's globals as the callbacks below use them (the Node-side tsconfig has no DOM types).
interface PageElement {
  textContent: string | null;
  className: string;
  dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
  value: string;
  complete: boolean;
  naturalWidth: number;
  dispatchEvent(event: unknown): boolean;
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & { length: number };
};
declare const Event: new (type: string) => unknown;

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const ARTIFACTS = path.join(ROOT, "test/artifacts/web");
/** Debian's package `chromium`; CHROMIUM_PATH points elsewhere if needed. */
const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const WRITE_DOC_IMAGES = process.env["WRITE_DOC_IMAGES"] === "1";

describe("tools/web page in chromium", function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let server: WebServer | undefined;

  before(function () {
    // Never skipped: a machine without the browser fails here, saying what to install.
    if (!fs.existsSync(CHROMIUM))
      throw new Error(
        `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`,
      );
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    if (WRITE_DOC_IMAGES) fs.mkdirSync(path.join(ROOT, "docs/images"), { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("shows an update live (phases, progress with rate and ETA, AT log, a fault) and ends with 10705", async () => {
    const hub = new MonitorHub();
    const timeline = new TimelineRecorder(() => 0);
    server = await startWebServer({ hub, port: 0, timeline: () => timelineSvg(timeline.events) });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(server.url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => document.getElementById("stream")!.textContent === "live", {
      polling: 50,
    });
    assert.equal(await page.title(), "sota-module: live monitoring");

    // A second browser that will go away in the middle of the download.
    const leaving = await browser.newPage();
    await leaving.goto(server.url, { waitUntil: "domcontentloaded" });
    await leaving.waitForFunction(() => document.getElementById("stream")!.textContent === "live", {
      polling: 50,
    });
    // Back to the first page (a background tab's timers and frames are throttled).
    await page.bringToFront();
    assert.equal(server.clients(), 2);

    // About 11 s of virtual time at 2.5x: the page sees the reads go by for about 3 s.
    const faults = [parseFaultSpec("drop:read=30,at=100")];
    hub.setArmedFaults(faults.map((f) => JSON.stringify(f)));
    const run = feedHub(hub, {
      imageSize: 96 * 1024,
      speed: 2.5,
      faults,
      onTrace: (entry) => timeline.trace(entry),
      onModule: (module) => module.monitor.subscribe((entry) => timeline.monitor(entry)),
    });

    await page.waitForFunction(
      () => {
        const p = document.getElementById("progress")!.dataset;
        return p["active"] === "true" && Number(p["percent"]) >= 30 && Number(p["percent"]) <= 85;
      },
      { timeout: 30_000, polling: 50 },
    );
    const live = await page.evaluate(() => ({
      bar: document.getElementById("bar-text")!.textContent,
      bytes: document.getElementById("bytes")!.textContent,
      rate: document.getElementById("rate")!.textContent,
      eta: document.getElementById("eta")!.textContent,
      status: document.querySelector(".ota")?.getAttribute("data-status"),
      link: document.getElementById("link")!.textContent,
    }));
    assert.match(live.bar!, /^app: \d+ %$/);
    assert.match(live.bytes!, /^\d+\.\d KiB \/ 96\.0 KiB$/);
    assert.match(live.rate!, /^\d+\.\d KiB\/s$/);
    assert.match(live.eta!, /^\d+\.\d s$/);
    assert.equal(live.status, "downloading");
    assert.equal(live.link, "online");
    // The live timeline, redrawn now, then the picture.
    await page.evaluate("refreshTimeline()");
    await page.waitForFunction(
      () => {
        const img = document.getElementById("timeline")!;
        return img.complete && img.naturalWidth === 1200;
      },
      { polling: 20 },
    );
    await page.screenshot({ path: path.join(ARTIFACTS, "page-during-download.png"), fullPage: true });
    if (WRITE_DOC_IMAGES)
      await page.screenshot({
        path: path.join(ROOT, "docs/images/page-during-download.png"),
        fullPage: true,
      });

    await leaving.close();
    // The server sees the closed socket when the browser gets to it: under load that took over 200 ms.
    for (const until = Date.now() + 10_000; server.clients() > 1 && Date.now() < until;)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(server.clients(), 1, "the closed page's stream is dropped");

    const result = await run;
    assert.equal(result.result.status, "updated");
    await page.waitForFunction(() => document.getElementById("final")!.className === "ok", {
      timeout: 30_000,
    });
    const end = await page.evaluate(() => ({
      final: document.getElementById("final")!.textContent,
      phases: [...document.querySelectorAll(".ota tr.phase")].map((tr) => tr.getAttribute("data-phase")),
      status: document.querySelector(".ota")!.getAttribute("data-status"),
      percent: document.getElementById("progress")!.dataset["percent"],
      reads: [...document.querySelectorAll("#log .reads")].map((d) =>
        d.textContent!.replace(/^\s*[\d.]+ s\s+reads\s+/, ""),
      ),
      lastUrcs: [...document.querySelectorAll("#log .urc")]
        .slice(-2)
        .map((d) => d.textContent!.trim().split(/\s+/).slice(3).join(" ")),
      connections: document.querySelectorAll(".connection").length,
      faults: [...document.querySelectorAll("#faults td:last-child")].map((td) => td.textContent),
      armed: document.getElementById("armed")!.textContent,
    }));
    assert.match(end.final!, /^final event at \d+\.\d{3} s: app 1\.1\.0: update complete \(10705\)$/);
    assert.deepEqual(end.phases, [
      "plan offered",
      "start download",
      "downloading",
      "download complete",
      "updating",
      "update complete",
    ]);
    assert.equal(end.status, "update complete");
    assert.equal(end.percent, "100");
    // The dropped bytes of read 30 split the reads: the device asks for 29696 again.
    assert.deepEqual(end.reads, [
      "30 reads from 0 to 29696+1024: 30720 bytes sent",
      "35 reads from 29696 to 64512+1024: 35840 bytes sent",
      "32 reads from 65536 to 97280+1024: 32768 bytes sent",
    ]);
    assert.deepEqual(end.faults, ["read 30: drop:read=30,at=100"]);
    assert.equal(end.armed, '{"kind":"drop","read":30,"at":100}');
    assert.deepEqual(end.lastUrcs, ["+QIOTEVT: 7,10705", '+QIND: "FOTA","END",0']);
    assert.equal(end.connections, 2);

    // The log filter: URCs only, then a text filter.
    await page.click('.filters input[data-kind="cmd"]');
    await page.click('.filters input[data-kind="reply"]');
    await page.click('.filters input[data-kind="reads"]');
    await page.click('.filters input[data-kind="note"]');
    await page.type("#filter", "10705");
    const filtered = await page.$$eval("#log div", (divs) => divs.map((d) => d.className));
    assert.deepEqual(filtered, ["urc"]);

    // The live timeline image is the run's SVG.
    await page.waitForFunction(
      () => {
        const img = document.getElementById("timeline")!;
        return img.complete && img.naturalWidth === 1200;
      },
      { polling: 50 },
    );
    await page.click('.filters input[data-kind="cmd"]');
    await page.click('.filters input[data-kind="reply"]');
    await page.click('.filters input[data-kind="reads"]');
    await page.click('.filters input[data-kind="note"]');
    await page.$eval("#filter", (input) => {
      (input as unknown as PageElement).value = "";
      input.dispatchEvent(new Event("input"));
    });
    await page.screenshot({ path: path.join(ARTIFACTS, "page-after-update.png"), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
