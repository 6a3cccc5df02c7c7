// Start-up and the trial (src/sota/startup.ts) against a hand-made context (mutation-testing survivors): each
// answer's log line, connect's states, each resume step's records, reports and states, the trial's verdicts. Portable.

import { deepEqual, equal } from "../../lib/assert.js";
import type { SlotInfo } from "../../../src/boot/types.js";
import { connect, rejectTrial, startUp } from "../../../src/sota/startup.js";
import { FakeReceiver, MD5, descriptor, downloadFake, record, type DownloadFake } from "./download-fake.js";

const slot = (changes: Partial<SlotInfo>): SlotInfo =>
  ({
    slot: 1,
    state: "verified",
    component: "app",
    version: "2.0.0",
    size: 10000,
    md5: MD5,
    sha256: "",
    ...changes,
  }) as SlotInfo;

const CONFIRMED = slot({ slot: 0, state: "confirmed", version: "1.0.0" });

function history(f: DownloadFake, version = "2.0.0") {
  return f.ctx.records.history("app", version);
}

describe("src/sota/startup edges", () => {
  it("a plain start: echo off, connect, the version report, online", async () => {
    const f = downloadFake();
    equal(await startUp(f.ctx), false);
    deepEqual(f.ops, ["acknowledge", "prepare false", "connect 60000", "report app 1.0.0", "resume -"]);
    deepEqual(f.states, [
      "starting: echo off, buffer mode",
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      "reporting: AT+QIOTMCUVER app 1.0.0",
      "online: running 1.0.0",
    ]);
    deepEqual(
      f.logs.filter((l) => !f.states.includes(l)),
      [],
    );
    equal(f.ctx.progress.progress.runningVersion, "1.0.0");
  });

  it("start-up's refused settings are logged, product info sent only with key and secret", async () => {
    const f = downloadFake({
      config: { flowControl: true, nbIot: true, productKey: "k", productSecret: "s" },
    });
    f.prepareAnswer = "ERROR";
    f.flowAnswer = "CME ERROR";
    f.productAnswer = "TIMEOUT";
    await startUp(f.ctx);
    deepEqual(f.ops.slice(0, 5), [
      "acknowledge",
      "prepare true",
      "flow true",
      "product k s",
      "connect 60000",
    ]);
    deepEqual(
      f.logs.filter((l) => !f.states.includes(l)),
      [
        "buffer mode answered ERROR: raw downlink URCs will be read by length",
        "AT+IFC=2,2 answered CME ERROR: the module keeps its flow control setting",
        "product info answered TIMEOUT (send AT+QIOTREG=0 first if connected)",
      ],
    );
    for (const config of [{ productKey: "k" }, { productSecret: "s" }]) {
      const g = downloadFake({ config });
      await startUp(g.ctx);
      deepEqual(g.ops.slice(0, 3), ["acknowledge", "prepare false", "connect 60000"]);
    }
  });

  it("connect tells each failure with its back-off in seconds, and each retry", async () => {
    const f = downloadFake({ config: { connectTimeoutMs: 5000 } });
    f.connectFailures = [
      ["no network", 30_499],
      ["10422", 1500],
    ];
    await connect(f.ctx);
    deepEqual(f.ops, ["connect 5000"]);
    deepEqual(f.states, [
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      "connecting: no network; retrying in 30 s",
      "connecting: retry 2",
      "connecting: 10422; retrying in 2 s",
      "connecting: retry 3",
    ]);
  });

  it("a verified image left by a reset: the installing record first, QIOTUPDATE=3, activation and restart", async () => {
    const f = downloadFake();
    f.report.slots = [CONFIRMED, slot({})];
    f.ctx.records.save(record({ stage: "downloading" }));
    let atFinish: unknown;
    const client = f.ctx.client as { finish: () => Promise<string> };
    const send = client.finish.bind(client);
    client.finish = async () => {
      atFinish = f.ctx.records.load()?.stage;
      return send();
    };
    equal(await startUp(f.ctx), true);
    equal(atFinish, "installing");
    deepEqual(f.ops.slice(-3), ["QIOTUPDATE=3", "activate", "restart"]);
    deepEqual(f.states.slice(-1), ["restarting: activating the verified 2.0.0 left by a reset"]);
  });

  it("a verified image the module no longer installs: dropped, counted, the running version reported, online", async () => {
    const f = downloadFake();
    f.report.slots = [CONFIRMED, slot({})];
    f.ctx.records.save(record());
    f.finishAnswer = "ERROR";
    equal(await startUp(f.ctx), false);
    deepEqual(f.ops.slice(-3), [
      "QIOTUPDATE=3",
      "abandon QIOTUPDATE=3 after a reset answered ERROR",
      "report app 1.0.0",
    ]);
    deepEqual(f.states.slice(-2), [
      "failed: the module no longer holds the OTA of 2.0.0; keeping 1.0.0",
      "online: running 1.0.0",
    ]);
    deepEqual([f.ctx.records.load(), history(f).failures], [undefined, 1]);
  });

  it("a set member's verified image: staged, its cycle closed, online without a restart", async () => {
    const f = downloadFake();
    f.report.slots = [CONFIRMED, slot({})];
    f.ctx.records.save(record());
    f.afterFinish = { kind: "update-succeeded" };
    const set = {
      imageId: "app",
      current: "app",
      pendingClose: "app",
      components: [{ id: "app", kind: "image" }],
      reported: () => "2.0.0",
      committed: () => "1.0.0",
      nextInTask: () => undefined,
      taskMember: () => undefined,
      capacity: () => 65536,
    };
    const ctx = { ...f.ctx, set: set as never };
    equal(await startUp(ctx), false);
    deepEqual(f.ops.slice(-4), ["QIOTUPDATE=3", "activate", "report app 2.0.0", "wait 10000"]);
    deepEqual(f.states.slice(-2), [
      "updating: app 2.0.0 staged (10705); set incomplete",
      "online: running 1.0.0",
    ]);
  });

  it("after a rollback: the record dropped, the old version reported once per boot", async () => {
    const f = downloadFake();
    f.report.rollbackReason = "trial not confirmed";
    f.ctx.records.save(record({ stage: "stalled" }));
    await startUp(f.ctx);
    deepEqual(f.states.slice(-2), [
      "failed: rolled back to 1.0.0: trial not confirmed",
      "online: running 1.0.0",
    ]);
    deepEqual([f.ctx.records.load(), f.ctx.session.rollbackReported], [undefined, true]);
    f.states.length = 0;
    await startUp(f.ctx);
    deepEqual(f.states.slice(-2), ["reporting: AT+QIOTMCUVER app 1.0.0", "online: running 1.0.0"]);
  });

  for (const [rejectedReason, lastFailure, text] of [
    ["health check failed", "", "2.0.0 rejected (health check failed): rolled back to 1.0.0"],
    ["", "10706 in the trial", "2.0.0 not kept (10706 in the trial): rolled back to 1.0.0"],
  ] as const) {
    it(`a version ${rejectedReason ? "rejected" : "not kept"} here is announced once after the rollback`, async () => {
      const f = downloadFake();
      f.ctx.records.saveHistory({
        component: "app",
        version: "2.0.0",
        failures: 1,
        rejectedReason,
        lastFailure,
        announced: false,
      });
      await startUp(f.ctx);
      deepEqual(f.ops.slice(-2), ["report app 1.0.0", "resume -"]);
      deepEqual(f.states.slice(-2), [`failed: ${text}`, "online: running 1.0.0"]);
      deepEqual(history(f), {
        component: "app",
        version: "2.0.0",
        failures: 1,
        rejectedReason,
        lastFailure,
        announced: true,
      });
    });
  }

  it("an OTA in progress holds the report back; a verified image without its record and a stale installing record are dropped", async () => {
    const f = downloadFake();
    f.ctx.records.save(record({ stage: "downloading" }));
    await startUp(f.ctx);
    deepEqual(f.ops.slice(-2), ["connect 60000", "resume -"]);
    equal(f.logs.includes("OTA of 2.0.0 in progress (downloading): version report held back"), true);
    const g = downloadFake();
    g.report.slots = [CONFIRMED, slot({ md5: "f".repeat(32) })];
    g.ctx.records.save(record({ stage: "installing", targetVersion: "3.0.0" }));
    await startUp(g.ctx);
    deepEqual(g.ops.slice(-3), [
      "abandon verified image without a matching OTA record",
      "report app 1.0.0",
      "resume -",
    ]);
    equal(g.ctx.records.load(), undefined);
  });

  it("a resumable image in the slot is the session's receive, told with its verified bytes", async () => {
    const f = downloadFake();
    const ram = new FakeReceiver(descriptor({ version: "1.9.0" }), f.ops, f.clock, 50);
    f.ctx.session.receiver = ram;
    f.resumable = new FakeReceiver(descriptor(), f.ops, f.clock, 50, 4096, 8192);
    f.ctx.records.save(record({ stage: "stalled" }));
    await startUp(f.ctx);
    deepEqual(f.ops.slice(-1), ["resume 1.9.0"]);
    equal(f.ctx.session.receiver, f.resumable);
    equal(f.logs.includes("resumable image 2.0.0: 8192 bytes verified"), true);
  });

  it("a trial: its timer set once, the image confirmed, the new version reported until 10705, the counter raised", async () => {
    const f = downloadFake({ config: { trialTimeoutMs: 7000 } });
    f.report.trial = true;
    f.report.running = slot({ state: "pending-test", version: "2.0.0" });
    f.report.slots = [CONFIRMED, f.report.running];
    f.ctx.records.save(record({ stage: "installing", securityCounter: 9 }));
    f.afterFinish = undefined;
    equal(await startUp(f.ctx), false);
    deepEqual(f.ops, [
      "acknowledge",
      "timer 7000",
      "prepare false",
      "connect 60000",
      "clear timer",
      "confirm image",
      ...[
        "report app 2.0.0",
        "wait 10000",
        "report app 2.0.0",
        "wait 10000",
        "report app 2.0.0",
        "wait 10000",
      ],
    ]);
    equal(f.states.includes("trial: trial boot of 2.0.0"), true);
    deepEqual(f.states.slice(-1), ["updated: running 2.0.0"]);
    deepEqual(
      [f.ctx.records.load(), f.ctx.records.securityCounter(), f.ctx.session.trialTimer],
      [undefined, 9, undefined],
    );
    const g = downloadFake();
    g.report.trial = true;
    g.report.running = slot({ state: "pending-test", version: "2.0.0" });
    g.afterFinish = { kind: "update-failed" };
    g.ctx.session.trialTimer = 5 as never;
    await startUp(g.ctx);
    equal(g.ops.includes("timer 600000"), false);
    deepEqual(g.states.slice(-1), ["updated: confirmed; the module reported 10706"]);
  });

  it("a trial whose timer runs out: rejected and remembered, the old version reported, restarted", async () => {
    const f = downloadFake();
    f.report.trial = true;
    f.report.running = slot({ state: "pending-test", version: "2.0.0" });
    f.report.slots = [f.report.running, CONFIRMED];
    f.ctx.records.save(record({ stage: "installing" }));
    (f.ctx.client as unknown as { connect: () => Promise<void> }).connect = async () => {
      f.timers.get(1)![1]();
      await f.ctx.session.rejection;
    };
    equal(await startUp(f.ctx), true);
    deepEqual(f.ops.slice(2), [
      "prepare false",
      "clear timer",
      "reject no confirmed connection to the module in time",
      "report app 1.0.0",
      "restart",
    ]);
    deepEqual(history(f), {
      component: "app",
      version: "2.0.0",
      failures: 0,
      rejectedReason: "no confirmed connection to the module in time",
      lastFailure: "",
      announced: false,
    });
    deepEqual(f.states.slice(-2), [
      "restarting: no confirmed connection to the module in time: rolling back",
      "trial: trial boot of 2.0.0",
    ]);
    equal(f.ctx.records.load(), undefined);
  });

  it("a trial the module ended (10706): counted, not remembered as rejected; no report on a busy line", async () => {
    const f = downloadFake();
    f.report.trial = true;
    f.report.running = slot({ state: "pending-test", version: "2.0.0" });
    f.report.slots = [CONFIRMED, f.report.running];
    f.waiting = [{ kind: "update-failed" }];
    f.quiet = false;
    equal(await startUp(f.ctx), true);
    deepEqual(f.ops.slice(-3), [
      "clear timer",
      "reject the module ended the OTA (10706) before the trial was confirmed",
      "restart",
    ]);
    deepEqual(
      [history(f).failures, history(f).lastFailure, history(f).rejectedReason],
      [1, "the module ended the OTA (10706) before the trial was confirmed", ""],
    );
  });

  for (const [name, check, log] of [
    ["fails", () => false, undefined],
    [
      "throws",
      () => {
        throw new Error("boom");
      },
      "health check threw: boom",
    ],
    [
      "throws a non-error",
      () => {
        throw "boom";
      },
      "health check threw: boom",
    ],
  ] as const) {
    it(`a health check that ${name}: the trial rejected and remembered`, async () => {
      const f = downloadFake({ config: { healthCheck: check as () => boolean } });
      f.report.trial = true;
      f.report.running = slot({ state: "pending-test", version: "2.0.0" });
      f.report.slots = [CONFIRMED, f.report.running];
      equal(await startUp(f.ctx), true);
      equal(history(f).rejectedReason, "health check failed");
      deepEqual(f.ops.slice(-4), [
        "clear timer",
        "reject health check failed",
        "report app 1.0.0",
        "restart",
      ]);
      if (log) equal(f.logs.includes(log), true);
      deepEqual(
        f.ops.filter((o) => o.startsWith("timer")),
        ["timer 600000", "timer 20000"],
      );
      // The health check's timer and the trial's.
      equal(f.ops.filter((o) => o === "clear timer").length, 2);
    });
  }

  it("a health check without an answer in time fails", async () => {
    const f = downloadFake({
      config: { healthCheck: () => new Promise<boolean>(() => undefined), healthCheckTimeoutMs: 300 },
    });
    f.report.trial = true;
    f.report.running = slot({ state: "pending-test", version: "2.0.0" });
    const started = startUp(f.ctx);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    f.timers.get(2)![1]();
    equal(await started, true);
    equal(f.logs.includes("health check gave no answer within 300 ms"), true);
    equal(history(f).rejectedReason, "health check failed");
  });

  it("rejectTrial on a stopped client does nothing", async () => {
    const f = downloadFake();
    f.stopped = true;
    await rejectTrial(f.ctx, "why", true);
    deepEqual([f.ops, f.states], [[], []]);
  });

  it("a set whose other component's record is not installing goes through the resume table", async () => {
    const f = downloadFake();
    f.ctx.records.save(record({ component: "data", targetVersion: "5", stage: "stalled" }));
    const set = {
      imageId: "app",
      current: "app",
      pendingClose: "",
      components: [
        { id: "app", kind: "image" },
        { id: "data", kind: "data" },
      ],
      reported: (id: string) => (id === "app" ? "1.0.0" : "5"),
      committed: (id: string) => (id === "app" ? "1.0.0" : "5"),
      finalize: () => void f.ops.push("finalize"),
      taskMember: () => undefined,
      capacity: () => 65536,
    };
    equal(await startUp({ ...f.ctx, set: set as never }), false);
    deepEqual(f.ops.slice(3), ["report app 1.0.0", "report data 5", "resume -"]);
  });

  it("flow control and product info answered OK log nothing", async () => {
    const f = downloadFake({ config: { flowControl: true, productKey: "k", productSecret: "s" } });
    await startUp(f.ctx);
    deepEqual(f.ops.slice(0, 5), [
      "acknowledge",
      "prepare false",
      "flow true",
      "product k s",
      "connect 60000",
    ]);
    deepEqual(
      f.logs.filter((l) => !f.states.includes(l)),
      [],
    );
  });

  it("a set's trial boot with the image's installing record runs the trial first", async () => {
    const f = downloadFake();
    f.report.trial = true;
    f.report.running = slot({ state: "pending-test", version: "2.0.0" });
    f.ctx.records.save(record({ stage: "installing" }));
    f.afterFinish = { kind: "update-succeeded" };
    const set = {
      imageId: "app",
      current: "app",
      pendingClose: "",
      components: [{ id: "app", kind: "image" }],
      reported: () => "2.0.0",
      committed: () => "2.0.0",
      finalize: () => void f.ops.push("finalize"),
      capacity: () => 65536,
    };
    equal(await startUp({ ...f.ctx, set: set as never }), false);
    deepEqual(f.ops.slice(4), ["clear timer", "confirm image", "finalize", "report app 2.0.0", "wait 10000"]);
    equal(f.states.includes("trial: trial boot of 2.0.0"), true);
  });
});
