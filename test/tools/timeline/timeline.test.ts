// The timeline SVG checked as a structure (parsed: lanes, spans, markers, their order and counts), from real
// simulated runs of 20 KiB and 1 MiB (with a module reboot) and from hand-written event lists.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseFaultSpec } from "../../../tools/module/faults.js";
import type { TimelineEvent } from "../../../tools/timeline/events.js";
import { LANES, buildTimeline } from "../../../tools/timeline/model.js";
import { runSimulatedUpdate } from "../../../tools/timeline/sim-run.js";
import { tickStep, timelineSvg } from "../../../tools/timeline/svg.js";
import { findAll, hasClass, parseXml } from "./xml.js";
import type { XmlElement } from "./xml.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
/** `WRITE_DOC_IMAGES=1` also writes the README's images under docs/images/. */
const WRITE_DOC_IMAGES = process.env["WRITE_DOC_IMAGES"] === "1";
if (WRITE_DOC_IMAGES) fs.mkdirSync(path.join(ROOT, "docs/images"), { recursive: true });

interface Parsed {
  svg: XmlElement;
  lanes: XmlElement[];
  spans: (lane: string) => XmlElement[];
  markers: XmlElement[];
  kinds: (kind: string) => XmlElement[];
}

function parse(text: string): Parsed {
  const svg = parseXml(text);
  assert.equal(svg.name, "svg");
  assert.equal(svg.attrs["xmlns"], "http://www.w3.org/2000/svg");
  const lanes = findAll(svg, (e) => e.name === "g" && hasClass(e, "lane"));
  const markers = findAll(svg, (e) => e.name === "g" && hasClass(e, "marker"));
  return {
    svg,
    lanes,
    spans: (lane) =>
      findAll(
        lanes.find((l) => l.attrs["data-lane"] === lane)!,
        (e) => e.name === "rect" && hasClass(e, "span"),
      ),
    markers,
    kinds: (kind) => markers.filter((m) => m.attrs["data-kind"] === kind),
  };
}

/** The structure every timeline has: all lanes in order, spans within the run and in time order, markers too. */
function checkStructure(p: Parsed): void {
  assert.deepEqual(
    p.lanes.map((l) => l.attrs["data-lane"]),
    [...LANES],
  );
  const start = Number(p.svg.attrs["data-start"]);
  const end = Number(p.svg.attrs["data-end"]);
  assert.ok(end > start, `${start}..${end}`);
  for (const lane of LANES) {
    let previous = Number.NEGATIVE_INFINITY;
    for (const span of p.spans(lane)) {
      const s = Number(span.attrs["data-start"]);
      const e = Number(span.attrs["data-end"]);
      assert.ok(
        s >= start - 1e-6 && e <= end + 1e-6 && e >= s,
        `${lane} span ${s}..${e} outside ${start}..${end}`,
      );
      assert.ok(s >= previous - 1e-6, `${lane}: span at ${s} before the previous one at ${previous}`);
      previous = s;
    }
  }
  const times = p.markers.map((m) => Number(m.attrs["data-t"]));
  for (let i = 1; i < times.length; i++)
    assert.ok(times[i]! >= times[i - 1]!, `markers out of order: ${times}`);
  const polyline = findAll(p.svg, (e) => e.name === "polyline" && hasClass(e, "bytes-line"))[0];
  if (polyline) {
    const xs = polyline.attrs["points"]!.split(" ").map((pt) => Number(pt.split(",")[0]));
    for (let i = 1; i < xs.length; i++) assert.ok(xs[i]! > xs[i - 1]!, "bytes points go forward in time");
  }
}

function laneCount(p: Parsed, lane: string): number {
  return Number(p.lanes.find((l) => l.attrs["data-lane"] === lane)!.attrs["data-count"]);
}

describe("tools/timeline", function () {
  this.timeout(60_000);

  it("a 20 KiB update: every phase in its lane once, the bytes line, a device restart and the final 10705", async () => {
    const run = await runSimulatedUpdate({ imageSize: 20 * 1024 });
    assert.equal(run.result.status, "updated");
    const svg = timelineSvg(run.recorder.events);
    const p = parse(svg);
    checkStructure(p);
    for (const lane of [
      "start-up",
      "offer",
      "confirm",
      "download",
      "reads",
      "verify",
      "activate",
      "trial",
      "report",
    ])
      assert.equal(p.spans(lane).length, 1, `${lane}: ${p.spans(lane).length} spans`);
    // Ordered phases: each starts no earlier than the one before it.
    const starts = [
      "start-up",
      "offer",
      "confirm",
      "download",
      "reads",
      "verify",
      "activate",
      "trial",
      "report",
    ].map((lane) => Number(p.spans(lane)[0]!.attrs["data-start"]));
    assert.deepEqual(
      [...starts].sort((a, b) => a - b),
      starts,
    );
    const erased = run.recorder.events.reduce((n, e) => n + (e.source === "erase" ? e.blocks : 0), 0);
    // Five 4 KiB sectors of image, the resume journal's sector and one boot record's.
    assert.equal(erased, 7);
    assert.equal(laneCount(p, "erases"), erased);
    assert.deepEqual(
      p.markers.map((m) => m.attrs["data-kind"]),
      ["reset", "final"],
    );
    assert.equal(p.kinds("final")[0]!.attrs["data-ok"], "true");
    assert.match(
      findAll(p.svg, (e) => e.name === "title")[0]!.text,
      /^app 1\.0\.0 → 1\.1\.0, 20 KiB: updated after \d+\.\d s$/,
    );
    const bytes = findAll(p.svg, (e) => e.name === "g" && hasClass(e, "bytes"))[0]!;
    assert.equal(bytes.attrs["data-total"], "20480");
    // The last point is the top of the chart: all bytes read.
    const points = findAll(bytes, (e) => e.name === "polyline")[0]!.attrs["points"]!.split(" ");
    assert.equal(
      Number(points[points.length - 1]!.split(",")[1]),
      Math.min(...points.map((pt) => Number(pt.split(",")[1]))),
    );
    // The same events always draw the same picture.
    assert.equal(timelineSvg(run.recorder.events), svg);
    if (WRITE_DOC_IMAGES) fs.writeFileSync(path.join(ROOT, "docs/images/timeline-20kib.svg"), svg);
  });

  it("a 1 MiB update with a module reboot in the middle: pieces, the reboot, the re-offer, the resume and 10705", async () => {
    const run = await runSimulatedUpdate({
      imageSize: 1024 * 1024,
      // Inside the 8th piece, one read before its end: after its last read the engine may erase before QIOTUPDATE=2.
      faults: [parseFaultSpec("reboot:readBytes=520192")],
      settings: { repushIntervalMs: 20_000 },
      untilUpdated: true,
    });
    assert.equal(run.result.status, "updated");
    assert.equal(run.result.runningVersion, "1.1.0");
    const svg = timelineSvg(run.recorder.events);
    const p = parse(svg);
    checkStructure(p);
    // 16 pieces of 64 KiB; the 8 fetched before the reboot are fetched again after the re-offer.
    assert.equal(p.spans("download").length, 24);
    assert.equal(p.spans("download").filter((s) => hasClass(s, "failed")).length, 0);
    assert.equal(p.spans("offer").length, 2);
    assert.equal(p.spans("start-up").length, 2, "the first start and the one after the module's RDY");
    assert.equal(p.kinds("fault").length, 1);
    assert.equal(p.kinds("reset").length, 2, "the module reboot and the device's trial restart");
    assert.equal(p.kinds("final").length, 1);
    assert.equal(p.kinds("final")[0]!.attrs["data-ok"], "true");
    // The module's silent download failure (the device sees the RDY and starts over, waiting for the next offer).
    assert.equal(p.kinds("error").length, 1);
    assert.equal(p.kinds("retry").length, 0);
    // The reads cut by the reboot end in red.
    assert.equal(p.spans("reads").filter((s) => hasClass(s, "failed")).length, 1);
    const reboot = p
      .kinds("reset")
      .find((m) => /module reboot/.test(findAll(m, (e) => e.name === "title")[0]!.text))!;
    const final = p.kinds("final")[0]!;
    assert.ok(Number(reboot.attrs["data-t"]) < Number(final.attrs["data-t"]));
    // Every erased block is counted even when several share a pixel.
    const erased = run.recorder.events.reduce((n, e) => n + (e.source === "erase" ? e.blocks : 0), 0);
    assert.equal(laneCount(p, "erases"), erased);
    assert.ok(p.spans("erases").length < erased, "erases closer than a pixel are drawn as one");
    assert.ok(svg.length < 150_000, `${svg.length} bytes of SVG`);
    const points = findAll(p.svg, (e) => e.name === "polyline")[0]!.attrs["points"]!.split(" ");
    assert.ok(points.length <= 1200, `${points.length} points: at most one per pixel column`);
    if (WRITE_DOC_IMAGES)
      fs.writeFileSync(path.join(ROOT, "docs/images/timeline-1mib-module-reboot.svg"), svg);
  });

  it("retries and injected errors are marked where the module saw them", async () => {
    const run = await runSimulatedUpdate({
      imageSize: 16 * 1024,
      faults: [parseFaultSpec("error:cmd=QIOTOTARD,nth=3"), parseFaultSpec("drop:read=9,at=5")],
    });
    assert.equal(run.result.status, "updated");
    const p = parse(timelineSvg(run.recorder.events));
    checkStructure(p);
    assert.equal(p.kinds("fault").length, 2);
    assert.equal(p.kinds("retry").length, 2, "the ERROR read and the short read are both asked again");
    assert.equal(p.kinds("error").length, 1, "the ERROR final");
  });

  it("maps hand-written device states to lanes (sota-device --timeline, no module trace)", () => {
    const d = (t: number, state: string, bytes = 0, reason = ""): TimelineEvent =>
      ({ t, source: "device", state, bytes, total: 8192, reason }) as TimelineEvent;
    const events: TimelineEvent[] = [
      { t: 0, source: "boot", restart: 0, trial: false, version: "1.0.0", rollback: "" },
      d(0, "starting"),
      d(100, "connecting"),
      d(200, "online"),
      d(200, "requesting"),
      d(300, "offered", 0, "app (full) -> 2.0.0, 8192 bytes"),
      d(310, "confirmed"),
      d(400, "downloading"),
      d(500, "reading", 1024, "piece 0+8192"),
      { t: 550, source: "log", text: "sota: read at 1024 failed (timeout); attempt 2" },
      d(600, "reading", 4096, "piece 0+8192"),
      { t: 650, source: "erase", end: 660, blocks: 1 },
      d(700, "reading", 8192, "piece 0+8192"),
      d(700, "verifying"),
      d(720, "activating"),
      d(730, "restarting"),
      d(730, "stopped"),
      { t: 740, source: "boot", restart: 1, trial: true, version: "2.0.0", rollback: "" },
      d(740, "starting"),
      d(800, "connecting"),
      d(820, "trial"),
      d(830, "reporting"),
      d(900, "updated", 0, "running 2.0.0"),
    ];
    const model = buildTimeline(events);
    const spans = (lane: string) => model.spans.filter((s) => s.lane === lane).map((s) => [s.start, s.end]);
    assert.deepEqual(spans("start-up"), [[0, 300]]);
    assert.deepEqual(spans("offer"), [[300, 310]]);
    assert.deepEqual(spans("confirm"), [[310, 400]]);
    assert.deepEqual(spans("download"), [[400, 500]]);
    assert.deepEqual(spans("reads"), [[500, 700]]);
    assert.deepEqual(spans("erases"), [[650, 660]]);
    assert.deepEqual(spans("verify"), [[700, 720]]);
    assert.deepEqual(spans("activate"), [[720, 730]]);
    assert.deepEqual(spans("trial"), [[740, 830]]);
    assert.deepEqual(spans("report"), [[830, 900]]);
    assert.deepEqual(
      model.markers.map((m) => [m.t, m.kind]),
      [
        [550, "retry"],
        [740, "reset"],
        [900, "final"],
      ],
    );
    assert.deepEqual(
      model.bytes.map((b) => b.bytes),
      [1024, 4096, 8192],
    );
    assert.equal(model.title, "app 1.0.0 → 2.0.0, 8 KiB: updated after 0.9 s");
    checkStructure(parse(timelineSvg(events)));
  });

  it("draws the module's side alone (sota-module --timeline): phases from the AT exchange and the monitoring log", async () => {
    const run = await runSimulatedUpdate({ imageSize: 20 * 1024, settings: { freeSpace: 8192 } });
    const moduleOnly = run.recorder.events.filter((e) => e.source === "module" || e.source === "monitor");
    const p = parse(timelineSvg(moduleOnly));
    checkStructure(p);
    for (const lane of ["start-up", "offer", "confirm", "verify", "activate", "trial", "report"])
      assert.equal(p.spans(lane).length, 1, lane);
    assert.equal(p.spans("download").length, 3, "three 8 KiB pieces");
    assert.equal(p.spans("reads").length, 3);
    assert.equal(p.spans("erases").length, 0, "the module cannot see the device's flash");
    assert.deepEqual(
      p.markers.map((m) => m.attrs["data-kind"]),
      ["final"],
    );
  });

  it("escapes text, and an empty run still gives a well-formed picture", () => {
    const events: TimelineEvent[] = [
      { t: 5, source: "module", kind: "fault", text: 'a <"quoted"> & odd fault' },
      { t: 9, source: "module", kind: "urc", text: "RDY" },
    ];
    const p = parse(timelineSvg(events));
    checkStructure(p);
    assert.equal(
      findAll(p.kinds("fault")[0]!, (e) => e.name === "title")[0]!.text,
      '0.005 s: a <"quoted"> & odd fault',
    );
    checkStructure(parse(timelineSvg([])));
  });

  it("time ticks are 1, 2 or 5 times a power of ten, about ten per picture", () => {
    assert.equal(tickStep(5_130), 1000);
    assert.equal(tickStep(144_000), 20_000);
    assert.equal(tickStep(20), 2);
    assert.equal(tickStep(0), 1);
  });
});
