// The restart table: for each OTA record stage and boot decision, the one step start-up takes.

import type { BootReport, SlotInfo } from "../../../src/boot/types.js";
import type { OtaRecord, OtaStage, VersionHistory } from "../../../src/sota/ota-record.js";
import { resumeAction, resumeWaitMs, resumeWindow } from "../../../src/sota/resume.js";
import type { ResumeAction } from "../../../src/sota/resume.js";
import { deepEqual, equal } from "../../lib/assert.js";

const MD5 = "a82f62a68b0680bca8b5dbc3b3bcebf3";

function slot(n: number, state: SlotInfo["state"], version: string, md5 = MD5): SlotInfo {
  return { slot: n, state, component: "app", version, size: 100, md5, sha256: "" };
}

function boot(changes: Partial<BootReport> = {}, second?: SlotInfo): BootReport {
  const running = slot(0, "confirmed", "1.0");
  return {
    running,
    trial: false,
    rollbackReason: "",
    slots: second ? [running, second] : [running],
    ...changes,
  };
}

function record(stage: OtaStage, targetVersion = "2.0", md5 = MD5): OtaRecord {
  return {
    component: "app",
    sourceVersion: "",
    targetVersion,
    stage,
    size: 100,
    md5,
    sha256: "",
    crc: 0,
    pieceStart: 0,
    pieceLength: 0,
    advancing: false,
    securityCounter: 0,
  };
}

function history(changes: Partial<VersionHistory>): VersionHistory {
  return {
    component: "app",
    version: "2.0",
    failures: 0,
    rejectedReason: "",
    lastFailure: "",
    announced: false,
    ...changes,
  };
}

function act(
  r: OtaRecord | undefined,
  b: BootReport,
  h?: VersionHistory,
  rollbackReported = false,
): ResumeAction {
  return resumeAction({ component: "app", record: r, boot: b, history: h, rollbackReported });
}

const online = (report: string, dropVerified = false, dropRecord = false): ResumeAction =>
  ({
    kind: "online",
    dropVerified,
    dropRecord,
    report,
  }) as ResumeAction;

describe("src/sota resume table", () => {
  it("a trial boot goes to the trial whatever the record says", () => {
    for (const stage of [undefined, "confirming", "installing"] as const)
      deepEqual(act(stage && record(stage), boot({ trial: true })), { kind: "trial" });
  });

  it("installing + the target running = report the installed version (10705 still owed)", () => {
    const running = slot(0, "confirmed", "2.0");
    deepEqual(act(record("installing"), boot({ running, slots: [running] })), { kind: "report-installed" });
  });

  it("a verified image with its record activates; without one it is dropped", () => {
    const verified = slot(1, "verified", "2.0");
    for (const stage of ["downloading", "installing"] as const)
      deepEqual(act(record(stage), boot({}, verified)), { kind: "activate-verified", slot: verified });
    deepEqual(act(undefined, boot({}, verified)), online("version", true));
    deepEqual(act(record("downloading", "2.0", "0".repeat(32)), boot({}, verified)), online("hold", true));
    deepEqual(act(record("downloading", "3.0"), boot({}, verified)), online("hold", true));
  });

  it("a delta's verified target is found by its image SHA-256 (the record's MD5 is the package's)", () => {
    const sha = "c2b54ddc46e3eb0909c730a4510f56f60191c89c592e22a7eb7a09ddf87e1f7e";
    const verified = { ...slot(1, "verified", "2.0", "1".repeat(32)), sha256: sha };
    const delta = { ...record("downloading"), sourceVersion: "1.0", imageSha256: sha };
    deepEqual(act(delta, boot({}, verified)), { kind: "activate-verified", slot: verified });
    deepEqual(act({ ...delta, imageSha256: "0".repeat(64) }, boot({}, verified)), online("hold", true));
    deepEqual(
      act({ ...delta, imageSha256: "" }, boot({}, { ...verified, sha256: "" })),
      online("hold", true),
    );
    deepEqual(act({ ...delta, imageSha256: undefined }, boot({}, verified)), online("hold", true));
  });

  it("an installing record that outlived its image is dropped and the version reported", () => {
    deepEqual(act(record("installing"), boot()), online("version", false, true));
  });

  it("an OTA in progress holds the version report back; a stalled one does not", () => {
    for (const stage of ["confirming", "confirmed", "downloading"] as const)
      deepEqual(act(record(stage), boot()), online("hold"));
    deepEqual(act(record("stalled"), boot()), online("version"));
    deepEqual(act({ ...record("downloading"), component: "other" }, boot()), online("version"));
  });

  it("a rollback is reported once; then an unannounced rejection; then the plain version", () => {
    const rolledBack = boot({ rollbackReason: "trial not confirmed" });
    deepEqual(act(record("downloading"), rolledBack), online("rollback"));
    deepEqual(act(undefined, rolledBack, undefined, true), online("version"));
    deepEqual(
      act(undefined, boot(), history({ rejectedReason: "health check failed" })),
      online("rejection"),
    );
    deepEqual(act(undefined, boot(), history({ lastFailure: "10706" })), online("rejection"));
    deepEqual(act(undefined, boot(), history({ rejectedReason: "x", announced: true })), online("version"));
    deepEqual(
      act(undefined, boot(), history({})),
      online("version"),
      "a history without a reason is no notice",
    );
  });

  it("a verified image of another component is not activated, even with the same version and MD5", () => {
    const verified = slot(1, "verified", "2.0");
    deepEqual(
      act({ ...record("downloading"), component: "other" }, boot({}, verified)),
      online("version", true),
    );
  });

  it("reads on in the recorded piece window only while downloading with digests and not moving the window", () => {
    const window = { ...record("downloading"), pieceStart: 4096, pieceLength: 4096 };
    deepEqual(resumeWindow(window), { fileSize: 100, pieceStart: 4096, pieceLength: 4096 });
    equal(resumeWindow(undefined), undefined);
    equal(resumeWindow({ ...window, advancing: true }), undefined, "QIOTUPDATE=2 sent, no 10703 yet");
    equal(resumeWindow({ ...window, pieceLength: 0 }), undefined, "no window");
    equal(resumeWindow({ ...window, md5: "" }), undefined, "no digests");
    for (const stage of ["confirming", "confirmed", "stalled", "installing"] as const)
      equal(resumeWindow({ ...window, stage }), undefined, stage);
  });

  it("the wait for download news after start-up follows the stage", () => {
    equal(resumeWaitMs(undefined, 35_000), 0);
    equal(resumeWaitMs(record("stalled"), 35_000), 0);
    equal(resumeWaitMs(record("installing"), 35_000), 0);
    for (const stage of ["confirming", "confirmed", "downloading"] as const)
      equal(resumeWaitMs(record(stage), 35_000), 35_000);
  });
});
