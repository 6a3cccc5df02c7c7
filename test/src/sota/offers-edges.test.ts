// Offers one by one against a hand-made context (mutation-testing survivors): exact refusal and confirm texts, the
// record written before the confirm, what a refused or failed confirm leaves, binding a 10701. Portable.

import { deepEqual, equal } from "../../lib/assert.js";
import {
  bindDownload,
  decide,
  markStalled,
  noteDownloading,
  refuseUnreadable,
} from "../../../src/sota/offers.js";
import { NO_WINDOW, type OtaRecord } from "../../../src/sota/ota-record.js";
import type { PlanOffer } from "../../../src/sota/policy.js";
import { fakeContext } from "./fake-context.js";

const OFFER: PlanOffer = {
  component: "app",
  sourceVersion: "",
  targetVersion: "2.0.0",
  batteryMin: 0,
  signalMin: -200,
  space: 4096,
};

const RECORD: OtaRecord = {
  component: "app",
  sourceVersion: "",
  targetVersion: "2.0.0",
  stage: "downloading",
  size: 4000,
  md5: "m",
  sha256: "s",
  crc: 9,
  ...NO_WINDOW,
  securityCounter: 0,
};

const start = (size: number, md5 = "m", component = "app") => ({
  kind: "download-start" as const,
  component,
  size,
  md5,
  crc: 5,
  sha256: "",
});

describe("src/sota/offers edges", () => {
  it("no offers: nothing asked, nothing said", async () => {
    const f = fakeContext();
    equal(await decide(f.ctx, []), false);
    deepEqual([f.calls, f.states], [[], []]);
  });

  it("a newer full image: the record is written before the confirm, then confirmed", async () => {
    const f = fakeContext();
    let atConfirm = "";
    const confirm = f.ctx.client.confirm.bind(f.ctx.client);
    (f.ctx.client as { confirm: () => Promise<string> }).confirm = async () => {
      atConfirm = f.kv.get("sota.ota") ?? "";
      return confirm();
    };
    f.ctx.session.advancedFrom = 7;
    f.ctx.session.readLength = 512;
    equal(await decide(f.ctx, [OFFER]), true);
    equal(JSON.parse(atConfirm).stage, "confirming");
    deepEqual(f.ctx.records.load(), { ...RECORD, stage: "confirmed", size: 0, md5: "", sha256: "", crc: 0 });
    deepEqual(f.states, ["offered: app (full) -> 2.0.0, 4096 bytes", "confirmed: update 1.0.0 -> 2.0.0"]);
    deepEqual(f.calls, ["signal", "confirm"]);
    deepEqual([f.ctx.session.advancedFrom, f.ctx.session.readLength], [-1, 0]);
    deepEqual([f.ctx.progress.progress.targetVersion, f.ctx.progress.progress.total], ["2.0.0", 4096]);
  });

  it("the same plan again keeps its digests; another plan drops them", async () => {
    const f = fakeContext();
    f.ctx.records.save({ ...RECORD, stage: "stalled" });
    equal(await decide(f.ctx, [OFFER]), true);
    deepEqual(f.ctx.records.load(), { ...RECORD, stage: "confirmed" });
    const g = fakeContext();
    g.ctx.records.save({ ...RECORD, targetVersion: "1.5.0" });
    equal(await decide(g.ctx, [OFFER]), true);
    deepEqual(g.ctx.records.load(), { ...RECORD, stage: "confirmed", size: 0, md5: "", sha256: "", crc: 0 });
    const h = fakeContext();
    h.ctx.records.save({ ...RECORD, component: "other" });
    equal(await decide(h.ctx, [OFFER]), true);
    equal(h.ctx.records.load()!.md5, "");
  });

  it("a confirm the module refuses: the previous record stalls, or no record is left", async () => {
    const f = fakeContext();
    f.confirmAnswer = "ERROR";
    equal(await decide(f.ctx, [OFFER]), false);
    equal(f.kv.get("sota.ota"), undefined);
    equal(f.states[1], "failed: the module did not take the confirm (ERROR)");
    const g = fakeContext();
    g.confirmAnswer = "CME ERROR";
    g.ctx.records.save({ ...RECORD, targetVersion: "1.5.0" });
    equal(await decide(g.ctx, [OFFER]), false);
    deepEqual(g.ctx.records.load(), { ...RECORD, targetVersion: "1.5.0", stage: "stalled" });
    equal(g.states[1], "failed: the module did not take the confirm (CME ERROR)");
    const h = fakeContext();
    h.confirmAnswer = "TIMEOUT";
    equal(await decide(h.ctx, [OFFER]), true);
    equal(h.ctx.records.load()!.stage, "confirmed");
  });

  it("refusals: current or refused, the record in progress stalls", async () => {
    const f = fakeContext({ running: "2.0.0" });
    f.ctx.records.save(RECORD);
    equal(await decide(f.ctx, [OFFER]), false);
    deepEqual(f.calls, ["signal", "refuse"]);
    equal(f.states[1]!.startsWith("current: "), true);
    equal(f.ctx.records.load()!.stage, "stalled");
    const g = fakeContext({ running: "3.0.0" });
    equal(await decide(g.ctx, [OFFER]), false);
    equal(g.states[1]!.startsWith("refused: "), true);
    equal(g.kv.get("sota.ota"), undefined);
    const h = fakeContext({ battery: 5 });
    equal(await decide(h.ctx, [{ ...OFFER, batteryMin: 50 }]), false);
    equal(h.states[1]!.startsWith("refused: "), true);
  });

  it("a task with a foreign component is judged by that component, and refused as a whole", async () => {
    const f = fakeContext();
    const other = { ...OFFER, component: "modem", sourceVersion: "0.9" };
    equal(await decide(f.ctx, [other, OFFER]), false);
    deepEqual(f.states, [
      "offered: app (full) -> 2.0.0, 4096 bytes",
      'refused: component "modem" is not ours ("app")',
    ]);
    const g = fakeContext();
    equal(await decide(g.ctx, [other]), false);
    deepEqual(g.states, [
      "offered: modem 0.9 -> 2.0.0, 4096 bytes",
      'refused: component "modem" is not ours ("app")',
    ]);
  });

  it("markStalled: only a record not yet stalled is written", () => {
    const f = fakeContext();
    markStalled(f.ctx, undefined);
    equal(f.kv.get("sota.ota"), undefined);
    f.kv.set("sota.ota", "untouched");
    markStalled(f.ctx, { ...RECORD, stage: "stalled" });
    equal(f.kv.get("sota.ota"), "untouched");
    markStalled(f.ctx, RECORD);
    equal(JSON.parse(f.kv.get("sota.ota")!).stage, "stalled");
  });

  it("an unreadable offer is refused with its reason", async () => {
    const f = fakeContext();
    await refuseUnreadable(f.ctx, "+QIOTEVT: 7,10700,bad", "no fields");
    deepEqual(f.calls, ["refuse"]);
    deepEqual(f.states, ["offered: +QIOTEVT: 7,10700,bad", "refused: unreadable offer (no fields)"]);
  });

  it("bindDownload: ours, another file, too large, no plan", () => {
    const f = fakeContext();
    f.ctx.records.save({ ...RECORD, stage: "confirmed", size: 0, md5: "", sha256: "", crc: 0 });
    f.ctx.session.advancedFrom = 3;
    f.ctx.session.readLength = 100;
    equal(bindDownload(f.ctx, { ...start(8192), sha256: "abc" }), true);
    deepEqual(f.ctx.records.load(), { ...RECORD, size: 8192, crc: 5, sha256: "abc" });
    deepEqual(
      [f.ctx.session.advancedFrom, f.ctx.session.readLength, f.ctx.progress.progress.total],
      [-1, 0, 8192],
    );
    deepEqual(f.states, ["downloading: 8192 bytes, md5 m, sha256 abc"]);
    // The same digests again bind again; other ones or another size do not.
    equal(bindDownload(f.ctx, start(8192)), true);
    equal(f.states[1], "downloading: 8192 bytes, md5 m");
    equal(bindDownload(f.ctx, start(8000)), false);
    equal(f.kv.get("sota.ota"), undefined);
    f.ctx.records.save(RECORD);
    equal(bindDownload(f.ctx, start(4000, "x")), false);
    equal(f.kv.get("sota.ota"), undefined);
    equal(f.logs.at(-1)!.startsWith("download information for another file than the plan's ("), true);
    // Too large for the slot: the plan ends.
    f.ctx.records.save({ ...RECORD, md5: "" });
    equal(bindDownload(f.ctx, start(8193)), false);
    equal(f.states.at(-1), "failed: image of 8193 bytes does not fit the 8192-byte slot");
    equal(f.kv.get("sota.ota"), undefined);
    // Not ours: no record, another component, or a record of another component.
    equal(bindDownload(f.ctx, start(10)), false);
    f.ctx.records.save({ ...RECORD, component: "modem" });
    equal(bindDownload(f.ctx, start(10)), false);
    equal(bindDownload(f.ctx, start(10, "m", "modem")), false);
    equal(f.logs.at(-1)!.startsWith("download information without a plan of ours ignored: "), true);
    equal(f.ctx.records.load()!.component, "modem");
  });

  it("noteDownloading: once per record, never for a stalled, installing or foreign one", () => {
    const f = fakeContext();
    equal(noteDownloading(f.ctx), false);
    f.ctx.records.save({ ...RECORD, stage: "confirmed" });
    equal(noteDownloading(f.ctx), true);
    equal(f.ctx.records.load()!.stage, "downloading");
    equal(noteDownloading(f.ctx), true);
    deepEqual(f.states, ["downloading: the module is downloading"]);
    for (const stage of ["stalled", "installing"] as const) {
      f.ctx.records.save({ ...RECORD, stage });
      equal(noteDownloading(f.ctx), false);
      equal(f.ctx.records.load()!.stage, stage);
    }
    f.ctx.records.save({ ...RECORD, component: "modem", stage: "confirmed" });
    equal(noteDownloading(f.ctx), false);
  });
});
