// ComponentSet against a recording boot control: versions, capacities and areas per member, each settle() outcome's
// text, the task's members and their statuses, the boot facade's routing and the set's restore (portable).
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { toHex } from "../../../hal/digest.js";
import { AreaReceiver, FlashWindow } from "../../../src/components/area.js";
import { ComponentSet } from "../../../src/components/set.js";
import type { SetRecord } from "../../../src/components/set-store.js";
import type { BootControl, BootReport, SlotInfo } from "../../../src/boot/types.js";
import type { ImageDescriptor, ImageReceiver } from "../../../src/image/types.js";

const digests = new NobleDigestFactory();

function slot(state: SlotInfo["state"], version = "1.0"): SlotInfo {
  return { slot: 0, state, component: "app", version, size: 10, md5: "", sha256: "" };
}

class FakeBoot implements BootControl {
  calls: string[] = [];
  report: BootReport = {
    running: slot("confirmed"),
    trial: false,
    rollbackReason: "",
    slots: [slot("confirmed")],
  };
  startReceive(descriptor: ImageDescriptor): ImageReceiver {
    this.calls.push(`start ${descriptor.component}`);
    return { descriptor } as unknown as ImageReceiver;
  }
  resumeReceive(): ImageReceiver | undefined {
    this.calls.push("resume");
    return undefined;
  }
  abandonReceive(reason: string): void {
    this.calls.push(`abandon ${reason}`);
  }
  activate(): void {
    this.calls.push("activate");
  }
  confirm(): void {
    this.calls.push("confirm");
  }
  reject(reason: string): void {
    this.calls.push(`reject ${reason}`);
  }
}

function hash(algorithm: "MD5" | "SHA256", bytes: Uint8Array): string {
  const digest = digests.create(algorithm);
  digest.write(bytes);
  return toHex(digest.close());
}

function rig(blockLength = 64) {
  const flash = new SimNorFlash({
    size: 8 * blockLength,
    blockLength,
    writeAlign: 4,
    initial: Uint8Array.from({ length: 8 * blockLength }, (_, i) => (i * 5) & 0xff),
  });
  const areas = {
    cfg: new FlashWindow(flash, 0, 2),
    "cfg.bak": new FlashWindow(flash, 2, 2),
    logic: new FlashWindow(flash, 4, 1),
    "logic.bak": new FlashWindow(flash, 5, 3),
  };
  const kv = new MemoryKeyValueStore();
  const boot = new FakeBoot();
  const logs: string[] = [];
  const set = new ComponentSet({
    kv,
    boot,
    areas,
    digests,
    components: [
      { id: "cfg", kind: "data", area: "cfg", backup: "cfg.bak", version: "1.0" },
      { id: "app", kind: "image" },
      { id: "logic", kind: "mod", area: "logic", backup: "logic.bak" },
    ],
    slotSize: 5000,
    log: (m) => logs.push(m),
  });
  return { flash, areas, kv, boot, logs, set };
}

function read(area: FlashWindow, length: number): Uint8Array {
  const out = new Uint8Array(length);
  area.read(out, 0);
  return out;
}

describe("components: ComponentSet's members", () => {
  it("answers versions, capacities, areas and journals per member", () => {
    const { set, areas, kv } = rig();
    equal(set.imageId, "app");
    equal(set.current, "app");
    equal(set.pendingClose, "", "no cycle to close yet");
    equal(set.member("nope"), undefined);
    equal(set.member("logic")?.kind, "mod");
    equal(set.committed("app"), "1.0", "the boot record's");
    equal(set.committed("cfg"), "1.0", "the configured one");
    equal(set.committed("logic"), "", "none configured");
    equal(set.committed("nope"), "");
    set.store.save({ versions: { cfg: "1.5", logic: "7" }, set: undefined });
    equal(set.committed("cfg"), "1.5");
    equal(set.committed("logic"), "7");
    deepEqual(
      [set.capacity("app"), set.capacity("cfg"), set.capacity("logic"), set.capacity("nope")],
      [5000, 128, 64, 0],
    );
    equal(set.area("app"), undefined);
    equal(set.area("nope"), undefined);
    equal(set.area("cfg"), areas.cfg);
    equal(set.running("app"), undefined);
    equal(set.running("nope"), undefined);
    equal(set.running("cfg"), areas.cfg);
    set.journal("cfg").save(1, 2, 3);
    equal(kv.get("sota.comp.j.cfg"), "1:2:3");
  });

  it("reports a staged member's target only while its set stages", () => {
    const { set } = rig();
    set.beginTask([{ component: "cfg", targetVersion: "2.0" }]);
    equal(set.reported("cfg"), "1.0", "pending");
    const staging = set.store.set!;
    set.store.saveSet({
      ...staging,
      members: staging.members.map((m) => ({ ...m, status: "staged" as const })),
    });
    equal(set.reported("cfg"), "2.0");
    equal(set.reported("app"), "1.0");
    set.store.saveSet({ ...set.store.set!, phase: "activating" });
    equal(set.reported("cfg"), "1.0", "activating: the committed one");
  });

  it("begins tasks: members join, backed-up stays backed-up, an image starts over, the task is the new one", () => {
    const { set } = rig();
    set.beginTask([
      { component: "app", targetVersion: "2.0" },
      { component: "cfg", targetVersion: "2.0" },
    ]);
    deepEqual(set.store.set, {
      phase: "staging",
      members: [
        { id: "app", kind: "image", target: "2.0", from: "1.0", status: "pending" },
        { id: "cfg", kind: "data", target: "2.0", from: "1.0", status: "pending" },
      ],
      task: ["app", "cfg"],
    });
    const s = set.store.set!;
    set.store.saveSet({ ...s, members: s.members.map((m) => ({ ...m, status: "staged" as const })) });
    set.beginTask([
      { component: "cfg", targetVersion: "3.0" },
      { component: "app", targetVersion: "3.0" },
      { component: "logic", targetVersion: "5" },
    ]);
    deepEqual(set.store.set, {
      phase: "staging",
      members: [
        { id: "app", kind: "image", target: "3.0", from: "1.0", status: "pending" },
        { id: "cfg", kind: "data", target: "3.0", from: "1.0", status: "backed-up" },
        { id: "logic", kind: "mod", target: "5", from: "", status: "pending" },
      ],
      task: ["cfg", "app", "logic"],
    });
    equal(set.nextInTask("cfg")?.id, "app");
    equal(set.nextInTask("app")?.id, "logic");
    equal(set.nextInTask("logic"), undefined);
    equal(set.nextInTask("nope")?.id, "app", "from the start");
    equal(set.taskMember("logic")?.target, "5");
    equal(set.taskMember("nope"), undefined);
    set.store.saveSet({ ...set.store.set!, phase: "activating" });
    equal(set.taskMember("logic"), undefined, "not while activating");
    set.store.saveSet(undefined);
    equal(set.nextInTask("cfg"), undefined);
    equal(set.taskMember("cfg"), undefined);
  });
});

describe("components: settling a set at start", () => {
  const members = (image: boolean): SetRecord["members"] => [
    ...(image
      ? [{ id: "app", kind: "image" as const, target: "2.0", from: "1.0", status: "staged" as const }]
      : []),
    { id: "cfg", kind: "data", target: "2.0", from: "1.0", status: "staged" },
  ];

  it("says what it did with each kind of set", () => {
    const r = rig();
    let dropped = 0;
    const drop = () => void dropped++;
    equal(r.set.settle(drop), "", "no set");
    r.set.store.saveSet({ phase: "staging", members: members(true), task: ["app", "cfg"] });
    equal(r.set.settle(drop), "set staging, resumed: app 2.0 staged, cfg 2.0 staged");
    r.set.store.saveSet({ phase: "activating", members: members(false), task: ["cfg"] });
    r.set.journal("cfg").save(1, 1, 1);
    equal(r.set.settle(drop), "set activated: cfg 2.0");
    equal(r.set.store.set, undefined);
    equal(r.set.committed("cfg"), "2.0");
    equal(r.kv.get("sota.comp.j.cfg"), undefined, "journal released");
    equal(r.logs.at(-1), "set confirmed: cfg 2.0; backups released");
    r.set.store.saveSet({ phase: "activating", members: members(true), task: ["app", "cfg"] });
    r.boot.report = { ...r.boot.report, running: slot("pending-test", "2.0"), trial: true };
    equal(r.set.settle(drop), "set on trial: app 2.0, cfg 2.0");
    ok(r.set.store.set !== undefined, "kept on trial");
    r.boot.report = { ...r.boot.report, trial: false };
    equal(r.set.settle(drop), "set confirmed: app 2.0, cfg 2.0");
    equal(r.set.store.set, undefined);
    equal(dropped, 0);
  });

  it("restores a set whose image did not boot: areas from their backups, the reason named", () => {
    const r = rig();
    const old = read(r.areas["cfg.bak"], 128);
    r.set.store.saveSet({
      phase: "activating",
      members: [
        { id: "app", kind: "image", target: "2.0", from: "1.0", status: "staged" },
        { id: "cfg", kind: "data", target: "2.0", from: "1.0", status: "staged" },
        { id: "logic", kind: "mod", target: "3", from: "2", status: "pending" },
      ],
      task: ["app", "cfg", "logic"],
    });
    const logicBefore = read(r.areas.logic, 64);
    let dropped = 0;
    r.boot.report = { ...r.boot.report, rollbackReason: "trial not confirmed" };
    equal(
      r.set.settle(() => void dropped++),
      "set rolled back (trial not confirmed): app 1.0, cfg 1.0, logic 2",
    );
    equal(dropped, 1);
    bytesEqual(read(r.areas.cfg, 128), old, "cfg from its backup");
    bytesEqual(read(r.areas.logic, 64), logicBefore, "a pending member is not copied");
    equal(r.set.store.set, undefined);
    deepEqual(r.boot.calls, [], "an activating set's image is the boot record's business");
    r.set.store.saveSet({ phase: "activating", members: members(true), task: ["app"] });
    r.boot.report = { ...r.boot.report, rollbackReason: "" };
    equal(
      r.set.settle(() => undefined),
      "set rolled back (image not running): app 1.0, cfg 1.0",
    );
  });

  it("drops a staging set now, abandoning a received image, and leaves an activating one alone", () => {
    const r = rig();
    r.set.drop(() => undefined);
    r.set.store.saveSet({ phase: "activating", members: members(true), task: ["app"] });
    r.set.drop(() => undefined);
    ok(r.set.store.set !== undefined, "activating: kept");
    for (const state of ["verified", "receiving", "empty"] as const) {
      r.boot.calls = [];
      r.boot.report = { ...r.boot.report, slots: [slot("confirmed"), slot(state)] };
      r.set.store.saveSet({ phase: "staging", members: members(true), task: ["app"] });
      let dropped = 0;
      r.set.drop(() => void dropped++);
      equal(dropped, 1);
      equal(r.set.store.set, undefined);
      deepEqual(r.boot.calls, state === "empty" ? [] : ["abandon set not activated"], state);
    }
  });
});

describe("components: the boot facade", () => {
  function download(r: ReturnType<typeof rig>, bytes: Uint8Array): ImageReceiver {
    const receiver = r.set.boot.startReceive({
      component: "cfg",
      version: "2.0",
      size: bytes.length,
      md5: hash("MD5", bytes),
      sha256: hash("SHA256", bytes),
      crc: 0,
    });
    return receiver;
  }

  it("routes the image to the real boot control and an area download to its area, backed up first", () => {
    const r = rig();
    equal(r.set.boot.report, r.boot.report);
    const image = r.set.boot.startReceive({
      component: "app",
      version: "2",
      size: 1,
      md5: "",
      sha256: "",
      crc: 0,
    });
    deepEqual(r.boot.calls, ["start app"]);
    equal(image.descriptor.component, "app");
    let message = "";
    try {
      download(r, new Uint8Array(10));
    } catch (error) {
      message = String(error);
    }
    equal(message, "RangeError: no set member cfg to receive");
    r.set.beginTask([{ component: "cfg", targetVersion: "2.0" }]);
    const old = read(r.areas.cfg, 128);
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);
    const receiver = download(r, bytes);
    bytesEqual(read(r.areas["cfg.bak"], 128), old, "backed up");
    equal(r.set.store.set!.members[0]!.status, "backed-up");
    r.set.current = "cfg";
    equal(r.set.boot.resumeReceive(), receiver);
    receiver.write(bytes.subarray(0, 70), 70);
    // A second start after a reset: no second backup, the journaled sector resumes.
    r.areas["cfg.bak"].eraseBlock(0);
    const again = download(r, bytes);
    equal(again.received, 64);
    equal(r.logs.at(-1), "cfg 2.0: 64 bytes resumed from its journal");
    equal(read(r.areas["cfg.bak"], 1)[0], 0xff, "not backed up again");
    again.write(bytes.subarray(64), 36);
    ok(again.finish().ok);
    r.set.boot.abandonReceive("interrupted");
    equal(r.set.boot.resumeReceive(), undefined);
    ok(r.kv.get("sota.comp.j.cfg") !== undefined, "an interruption keeps the journal");
    r.set.boot.abandonReceive("verification failed: md5");
    equal(r.kv.get("sota.comp.j.cfg"), undefined, "a failed check starts over");
    r.set.current = "app";
    equal(r.set.boot.resumeReceive(), undefined);
    deepEqual(r.boot.calls.slice(1), ["resume"]);
    r.set.boot.confirm();
    r.set.boot.reject("health");
    deepEqual(r.boot.calls.slice(2), ["confirm", "reject health"]);
  });

  it("stages members one by one and activates the set with its last one", () => {
    const r = rig();
    r.set.beginTask([
      { component: "app", targetVersion: "2.0" },
      { component: "cfg", targetVersion: "2.0" },
    ]);
    r.set.current = "app";
    r.set.boot.activate();
    equal(r.set.pendingClose, "app");
    equal(r.set.store.set!.phase, "staging");
    deepEqual(r.boot.calls, []);
    // The staged image is kept through an abandon; only the set's restore drops it.
    r.set.boot.abandonReceive("module rebooted");
    deepEqual(r.boot.calls, []);
    equal(r.logs.at(-1), "staged image kept (module rebooted)");
    r.set.current = "cfg";
    r.set.boot.activate();
    equal(r.set.store.set!.phase, "activating");
    deepEqual(r.boot.calls, ["activate"]);
    equal(r.logs.at(-1), "set activating: app 2.0, cfg 2.0");
    let message = "";
    try {
      r.set.boot.activate();
    } catch (error) {
      message = String(error);
    }
    equal(message, "Error: no staging set for cfg");
  });

  it("activates a set without an image without the boot control, and abandons an unstaged image", () => {
    const r = rig();
    r.set.beginTask([
      { component: "app", targetVersion: "2.0" },
      { component: "logic", targetVersion: "2" },
    ]);
    r.set.current = "app";
    r.set.boot.abandonReceive("refused");
    deepEqual(r.boot.calls, ["abandon refused"]);
    r.set.beginTask([{ component: "logic", targetVersion: "2" }]);
    r.set.store.saveSet({
      ...r.set.store.set!,
      members: r.set.store.set!.members.filter((m) => m.id === "logic"),
    });
    r.set.current = "logic";
    r.set.boot.activate();
    equal(r.set.store.set!.phase, "activating");
    deepEqual(r.boot.calls, ["abandon refused"], "no boot activation");
  });
});

describe("components: ComponentSet, each condition on its own", () => {
  it('gives an image no area, even beside a flash area named "undefined"', () => {
    const r = rig();
    const set = new ComponentSet({
      kv: r.kv,
      boot: r.boot,
      areas: { ...r.areas, undefined: r.areas.cfg },
      digests,
      components: r.set.components,
      slotSize: 5000,
      log: () => undefined,
    });
    equal(set.area("app"), undefined);
    equal(set.running("app"), undefined);
    equal(set.running("cfg"), r.areas.cfg);
  });

  it("confirms a set with an image: only data and mod versions are stored, only their journals released", () => {
    const r = rig();
    r.kv.set("sota.comp.j.app", "kept");
    r.set.journal("cfg").save(1, 1, 1);
    r.set.store.saveSet({
      phase: "activating",
      members: [
        { id: "app", kind: "image", target: "2.0", from: "1.0", status: "staged" },
        { id: "cfg", kind: "data", target: "2.0", from: "1.0", status: "staged" },
      ],
      task: ["app", "cfg"],
    });
    r.boot.report = { ...r.boot.report, running: slot("confirmed", "2.0") };
    equal(
      r.set.settle(() => undefined),
      "set confirmed: app 2.0, cfg 2.0",
    );
    deepEqual(r.set.store.load().versions, { cfg: "2.0" });
    equal(r.set.store.set, undefined);
    equal(r.kv.get("sota.comp.j.cfg"), undefined);
    equal(r.kv.get("sota.comp.j.app"), "kept", "an image has no area journal");
  });

  it("keeps a re-offered member pending until backed up, and skips staged members after the current one", () => {
    const r = rig();
    r.set.beginTask([{ component: "cfg", targetVersion: "2.0" }]);
    r.set.beginTask([
      { component: "cfg", targetVersion: "3.0" },
      { component: "logic", targetVersion: "5" },
    ]);
    deepEqual(r.set.store.set!.members, [
      { id: "cfg", kind: "data", target: "3.0", from: "1.0", status: "pending" },
      { id: "logic", kind: "mod", target: "5", from: "", status: "pending" },
    ]);
    equal(r.set.nextInTask("cfg")?.id, "logic");
    const s = r.set.store.set!;
    r.set.store.saveSet({
      ...s,
      members: s.members.map((m) => (m.id === "logic" ? { ...m, status: "staged" as const } : m)),
    });
    equal(r.set.nextInTask("cfg"), undefined, "logic is staged");
  });

  it("backs up only the member it receives, routes a mod to its area and logs no resume at 0 bytes", () => {
    const r = rig();
    r.set.beginTask([
      { component: "cfg", targetVersion: "2.0" },
      { component: "logic", targetVersion: "5" },
    ]);
    const cfg = r.set.boot.startReceive({
      component: "cfg",
      version: "2.0",
      size: 10,
      md5: "",
      sha256: "",
      crc: 0,
    });
    equal(cfg.received, 0);
    deepEqual(
      r.set.store.set!.members.map((m) => `${m.id} ${m.status}`),
      ["cfg backed-up", "logic pending"],
    );
    const logic = r.set.boot.startReceive({
      component: "logic",
      version: "5",
      size: 10,
      md5: "",
      sha256: "",
      crc: 0,
    });
    ok(logic instanceof AreaReceiver, "a mod goes to its area");
    deepEqual(
      r.set.store.set!.members.map((m) => `${m.id} ${m.status}`),
      ["cfg backed-up", "logic backed-up"],
    );
    deepEqual(r.boot.calls, [], "not the image's boot control");
    deepEqual(r.logs, [], "nothing resumed");
  });

  it("abandons the image while only a data member is staged", () => {
    const r = rig();
    r.set.beginTask([
      { component: "cfg", targetVersion: "2.0" },
      { component: "app", targetVersion: "2.0" },
    ]);
    const s = r.set.store.set!;
    r.set.store.saveSet({
      ...s,
      members: s.members.map((m) => (m.id === "cfg" ? { ...m, status: "staged" as const } : m)),
    });
    r.set.current = "app";
    r.set.boot.abandonReceive("refused");
    deepEqual(r.boot.calls, ["abandon refused"]);
    deepEqual(r.logs, []);
  });

  it("rolls back an activating set without abandoning the slot the boot record holds", () => {
    const r = rig();
    r.set.store.saveSet({
      phase: "activating",
      members: [
        { id: "app", kind: "image", target: "2.0", from: "1.0", status: "staged" },
        { id: "cfg", kind: "data", target: "2.0", from: "1.0", status: "staged" },
      ],
      task: ["app", "cfg"],
    });
    r.boot.report = { ...r.boot.report, slots: [slot("confirmed"), slot("verified", "2.0")] };
    equal(
      r.set.settle(() => undefined),
      "set rolled back (image not running): app 1.0, cfg 1.0",
    );
    equal(r.set.store.set, undefined);
    deepEqual(r.boot.calls, []);
  });
});
