// The monitoring page's model: Developer Center phases per OTA, connections, progress with rate and ETA, the AT log
// with reads summarised, faults; across module reboots, connection losses and updates one after another.
import assert from "node:assert/strict";
import { parseFaultSpec } from "../../../tools/module/faults.js";
import { MonitorHub } from "../../../tools/web/hub.js";
import type { HubMessage } from "../../../tools/web/hub.js";
import { feedHub } from "./feed.js";

const phasesOf = (hub: MonitorHub, i = 0) => hub.snapshot().otas[i]!.phases.map((p) => p.name);

describe("tools/web hub", function () {
  this.timeout(60_000);

  it("one update: the Developer Center's phases with times, the final event, reads summarised in the log", async () => {
    const hub = new MonitorHub();
    const messages: HubMessage[] = [];
    hub.subscribe((m) => messages.push(m));
    const run = await feedHub(hub, { imageSize: 20 * 1024, settings: { freeSpace: 8192 } });
    assert.equal(run.result.status, "updated");
    const s = hub.snapshot();
    assert.equal(s.module.deviceId, "sim-device-1");
    assert.equal(s.module.link, "online");
    assert.deepEqual(
      s.plans.map((p) => [p.id, p.targetVersion, p.size]),
      [["app", "1.1.0", 20480]],
    );
    assert.equal(s.otas.length, 1);
    assert.deepEqual(phasesOf(hub), [
      "plan offered",
      "start download",
      "downloading",
      "download complete",
      "updating",
      "update complete",
    ]);
    const times = s.otas[0]!.phases.map((p) => p.t);
    assert.deepEqual(
      [...times].sort((a, b) => a - b),
      times,
    );
    assert.equal(s.otas[0]!.status, "update complete");
    assert.deepEqual(
      s.otas[0]!.phases.map((p) => p.percent),
      [0, 0, 100, 100, 100, 100],
    );
    assert.deepEqual(s.final && { ok: s.final.ok, text: s.final.text }, {
      ok: true,
      text: "app 1.1.0: update complete (10705)",
    });
    // The trial boot's start-up (ATE0) opens a second connection.
    assert.deepEqual(
      s.connections.map((c) => [c.id, c.endReason ?? "open"]),
      [
        [1, "device restarted"],
        [2, "open"],
      ],
    );
    assert.deepEqual(s.progress && { ...s.progress, bytesPerSecond: 0 }, {
      component: "app",
      bytes: 20480,
      total: 20480,
      percent: 100,
      bytesPerSecond: 0,
      etaSeconds: 0,
      reads: 20,
      active: false,
    });
    assert.ok(
      s.progress!.bytesPerSecond > 5000 && s.progress!.bytesPerSecond < 11520,
      `${s.progress!.bytesPerSecond}`,
    );
    // One summary line per stretch of reads (three pieces), no QIOTOTARD command or OK of its own.
    const reads = s.log.filter((e) => e.kind === "reads");
    assert.deepEqual(
      reads.map((e) => e.text),
      [
        "8 reads from 0 to 7168+1024: 8192 bytes sent",
        "8 reads from 8192 to 15360+1024: 8192 bytes sent",
        "4 reads from 16384 to 19456+1024: 4096 bytes sent",
      ],
    );
    assert.equal(s.log.filter((e) => /^AT\+QIOTOTARD=\d/.test(e.text)).length, 0);
    assert.ok(s.log.some((e) => e.kind === "urc" && e.text === "+QIOTEVT: 7,10705"));
    // Live messages: each phase, the final event, and progress while reading.
    assert.equal(messages.filter((m) => m.event === "ota").length >= 6, true);
    assert.equal(messages.filter((m) => m.event === "final").length, 1);
    assert.ok(
      messages.some((m) => m.event === "progress" && (m.data as { percent: number }).percent === 100),
    );
  });

  it("updates one after another, a lost connection and a module reboot: every OTA and connection kept apart", async () => {
    const hub = new MonitorHub();
    await feedHub(hub, { imageSize: 12 * 1024 });
    const first = hub.snapshot().module.now;
    const lost = await feedHub(hub, {
      imageSize: 12 * 1024,
      offsetMs: first + 60_000,
      faults: [parseFaultSpec("disconnect:piece=2")],
      settings: { repushIntervalMs: 20_000, freeSpace: 4096 },
      untilUpdated: true,
    });
    assert.equal(lost.result.status, "updated");
    const second = hub.snapshot().module.now;
    const rebooted = await feedHub(hub, {
      imageSize: 12 * 1024,
      offsetMs: second + 60_000,
      faults: [parseFaultSpec("reboot:read=6")],
      settings: { repushIntervalMs: 20_000, freeSpace: 4096 },
      untilUpdated: true,
    });
    assert.equal(rebooted.result.status, "updated");
    const s = hub.snapshot();
    assert.equal(s.otas.length, 3);
    assert.deepEqual(
      s.otas.map((o) => o.status),
      ["update complete", "update complete", "update complete"],
    );
    assert.deepEqual(phasesOf(hub, 1), [
      "plan offered",
      "start download",
      "downloading",
      "download failed",
      "plan offered",
      "start download",
      "downloading",
      "download complete",
      "updating",
      "update complete",
    ]);
    assert.deepEqual(phasesOf(hub, 2).slice(0, 5), [
      "plan offered",
      "start download",
      "downloading",
      "download failed",
      "plan offered",
    ]);
    assert.ok(s.connections.some((c) => c.endReason === "connection lost (2,10473)"));
    assert.ok(s.connections.some((c) => c.endReason?.startsWith("module reboot")));
    assert.equal(s.module.reboots, 1);
    assert.deepEqual(
      s.faults.map((f) => f.text),
      ["disconnect:piece=2", "reboot:read=6"],
    );
    assert.equal(s.final?.ok, true);
    // Connection numbers only go up, and each OTA belongs to the connection in which it was offered.
    const ids = s.connections.map((c) => c.id);
    assert.deepEqual(
      ids,
      ids.map((_, i) => i + 1),
    );
    for (const o of s.otas) assert.ok(ids.includes(o.connection));
  });

  it("throttles progress messages in real time and sends the held-back one on flush", () => {
    let now = 0;
    const hub = new MonitorHub({ realNow: () => now, progressIntervalMs: 100 });
    const progress: HubMessage[] = [];
    hub.subscribe((m) => m.event === "progress" && progress.push(m));
    hub.trace({ time: 0, kind: "urc", text: '+QIOTEVT: 7,10701,"app",4096,"00",1' });
    for (let i = 0; i < 4; i++)
      hub.trace({ time: 100 + i * 100, kind: "read", text: `read ${i * 1024}+1024 → 1024 bytes` });
    // 10701 (forced); the reads in the same real-time instant are held back, except the last that completes the file.
    assert.deepEqual(
      progress.map((m) => (m.data as { bytes: number }).bytes),
      [0, 4096],
    );
    hub.trace({ time: 600, kind: "read", text: "read 0+1024 → 1024 bytes" });
    now = 500;
    hub.flush();
    assert.deepEqual(
      progress.map((m) => (m.data as { bytes: number }).bytes),
      [0, 4096, 1024],
    );
  });

  it("keeps the last 100 connections for a module that serves for days", () => {
    const hub = new MonitorHub();
    for (let i = 0; i < 150; i++) hub.trace({ time: i * 1000, kind: "rx", text: "ATE0" });
    const ids = hub.snapshot().connections.map((c) => c.id);
    assert.equal(ids.length, 100);
    assert.deepEqual([ids[0], ids[99]], [51, 150]);
  });

  it("a plan the device refuses (signal below the plan's minimum): offered, refused, a failed final event", async () => {
    const hub = new MonitorHub();
    const run = await feedHub(hub, { imageSize: 8 * 1024, settings: { signalDbm: -110 } });
    assert.equal(run.result.status, "refused");
    assert.deepEqual(phasesOf(hub), ["plan offered", "refused"]);
    assert.deepEqual(
      hub.snapshot().final && { ok: hub.snapshot().final!.ok, text: hub.snapshot().final!.text },
      {
        ok: false,
        text: "app 1.1.0: refused by the device",
      },
    );
    assert.equal(hub.snapshot().progress, null);
  });
});
