// The engine's side of a multi-component task (src/sota/set-cycle.ts) against a hand-made component set
// (mutation-testing survivors): which component is in work, exact records, reports and states of each cycle. Portable.

import { deepEqual, equal } from "../../lib/assert.js";
import type { ComponentSet } from "../../../src/components/set.js";
import type { EngineContext } from "../../../src/sota/context.js";
import { NO_WINDOW } from "../../../src/sota/ota-record.js";
import {
  closeCycle,
  followTask,
  reportMembers,
  reportSetInstalled,
  resumeMember,
  selectComponent,
} from "../../../src/sota/set-cycle.js";
import { downloadFake, record, type DownloadFake } from "./download-fake.js";

interface Member {
  id: string;
  kind: string;
  target: string;
  status: string;
}

function withSet(f: DownloadFake, members: Record<string, Member> = {}, next: Record<string, string> = {}) {
  const set = {
    imageId: "app",
    current: "app",
    pendingClose: "",
    components: [
      { id: "app", kind: "image" },
      { id: "data", kind: "data" },
      { id: "cfg", kind: "mod" },
    ],
    capacity: (id: string) => ({ app: 65536, data: 8192, cfg: 4096 })[id] ?? 0,
    taskMember: (id: string) => members[id],
    nextInTask: (id: string) => (next[id] ? members[next[id]] : undefined),
    reported: (id: string) => `r-${id}`,
    committed: (id: string) => `c-${id}`,
    finalize: () => void f.ops.push("finalize"),
  };
  const ctx: EngineContext = { ...f.ctx, set: set as unknown as ComponentSet };
  return { set, ctx };
}

const DATA: Member = { id: "data", kind: "data", target: "2", status: "pending" };
const CFG: Member = { id: "cfg", kind: "mod", target: "3", status: "pending" };

describe("src/sota/set-cycle edges", () => {
  it("selectComponent: the component in work, its slot size, progress and the set's current", () => {
    const f = downloadFake();
    selectComponent(f.ctx, "data");
    deepEqual([f.ctx.config.component, f.ctx.config.slotSize], ["app", 65536]);
    const { set, ctx } = withSet(f);
    ctx.config.slotSize = 1;
    selectComponent(ctx, "app");
    deepEqual([ctx.config.slotSize, set.current], [1, "app"]);
    selectComponent(ctx, "data");
    deepEqual(
      [ctx.config.component, ctx.config.slotSize, ctx.progress.progress.component, set.current],
      ["data", 8192, "data", "data"],
    );
  });

  it("followTask: a new member's record in one write, the session and progress reset", () => {
    const f = downloadFake();
    const { ctx } = withSet(f, { data: DATA });
    ctx.session.advancedFrom = 4;
    ctx.session.readLength = 512;
    ctx.progress.progress.bytes = 99;
    ctx.records.save(record());
    followTask(ctx, "data");
    deepEqual(ctx.records.load(), {
      component: "data",
      sourceVersion: "",
      targetVersion: "2",
      stage: "confirmed",
      size: 0,
      md5: "",
      sha256: "",
      crc: 0,
      ...NO_WINDOW,
      securityCounter: 0,
    });
    deepEqual(
      [
        ctx.session.advancedFrom,
        ctx.session.readLength,
        ctx.progress.progress.bytes,
        ctx.progress.progress.targetVersion,
      ],
      [-1, 0, 0, "2"],
    );
    equal(ctx.config.component, "data");
  });

  it("followTask: the member's own record is kept; a staged or unknown member changes nothing", () => {
    const f = downloadFake();
    const { ctx } = withSet(f, { data: DATA, cfg: { ...CFG, status: "staged" } });
    const own = record({ component: "data", targetVersion: "2", md5: "m", size: 5 });
    ctx.records.save(own);
    ctx.session.readLength = 512;
    followTask(ctx, "data");
    deepEqual([ctx.records.load(), ctx.session.readLength, ctx.config.component], [own, 512, "data"]);
    ctx.records.save(record({ component: "data", targetVersion: "1" }));
    followTask(ctx, "data");
    equal(ctx.records.load()?.targetVersion, "2");
    ctx.records.save(record({ component: "cfg", targetVersion: "2" }));
    followTask(ctx, "data");
    equal(ctx.records.load()?.component, "data");
    for (const id of ["cfg", "nope"]) {
      ctx.records.save(own);
      followTask(ctx, id);
      deepEqual([ctx.records.load(), ctx.config.component], [own, "data"]);
    }
    const g = downloadFake();
    followTask(g.ctx, "data");
    equal(g.ctx.config.component, "app");
  });

  it("resumeMember: only a data or mod member with its own target is in work again", () => {
    for (const [stored, member, expected] of [
      [record({ component: "data", targetVersion: "2" }), DATA, "data"],
      [record({ component: "data", targetVersion: "1" }), DATA, "app"],
      [record({ component: "data", targetVersion: "2" }), { ...DATA, kind: "image" }, "app"],
      [undefined, DATA, "app"],
    ] as const) {
      const f = downloadFake();
      const { ctx } = withSet(f, { data: member });
      if (stored) ctx.records.save(stored);
      resumeMember(ctx);
      equal(ctx.config.component, expected);
    }
    const g = downloadFake();
    g.ctx.records.save(record());
    resumeMember(g.ctx);
    equal(g.ctx.config.component, "app");
  });

  it("closeCycle: the staged member's version reported until 10705, the record cleared, the next member followed", async () => {
    const f = downloadFake();
    f.afterFinish = { kind: "update-succeeded" };
    const { set, ctx } = withSet(f, { data: DATA, cfg: CFG }, { data: "cfg" });
    set.pendingClose = "data";
    ctx.session.receiver = {} as never;
    ctx.records.save(record({ component: "data", targetVersion: "2" }));
    equal(await closeCycle(ctx), 1000 + 35_000);
    deepEqual(f.ops, ["report data r-data", "wait 10000"]);
    deepEqual(f.states.slice(-1), ["updating: data r-data staged (10705); next: cfg"]);
    deepEqual([set.pendingClose, ctx.config.component, ctx.records.load()?.component], ["", "cfg", "cfg"]);
    equal(ctx.session.receiver, undefined);
  });

  it("closeCycle: three reports without an answer, a 10706, no next member", async () => {
    const f = downloadFake();
    f.afterFinish = undefined;
    const { set, ctx } = withSet(f, { data: DATA });
    set.pendingClose = "data";
    ctx.records.save(record({ component: "data", targetVersion: "2" }));
    equal(await closeCycle(ctx), 0);
    deepEqual(f.ops, [
      ...["report data r-data", "wait 10000", "report data r-data", "wait 10000"],
      ...["report data r-data", "wait 10000"],
    ]);
    deepEqual(f.states.slice(-1), ["updating: data r-data staged (10705); set incomplete"]);
    equal(ctx.records.load(), undefined);
    const g = downloadFake();
    g.afterFinish = { kind: "update-failed" };
    const other = withSet(g, { data: DATA });
    other.set.pendingClose = "data";
    await closeCycle(other.ctx);
    deepEqual(g.states.slice(-1), ["updating: data r-data staged (10706); set incomplete"]);
  });

  it("reportMembers: every data and mod member, except one whose OTA is in progress", async () => {
    const f = downloadFake();
    await reportMembers(f.ctx);
    deepEqual(f.ops, []);
    for (const [stage, held] of [
      ["downloading", true],
      ["confirmed", true],
      ["stalled", false],
      ["installing", false],
    ] as const) {
      const g = downloadFake();
      const { ctx } = withSet(g);
      ctx.records.save(record({ component: "data", stage }));
      await reportMembers(ctx);
      deepEqual(g.ops, held ? ["report cfg r-cfg"] : ["report data r-data", "report cfg r-cfg"]);
      deepEqual(
        g.logs.filter((l) => l.startsWith("OTA")),
        held ? [`OTA of data 2.0.0 in progress (${stage}): version report held back`] : [],
      );
    }
  });

  it("reportSetInstalled: finalized, every version reported, the open cycle's until 10705, the image in work again", async () => {
    const f = downloadFake();
    f.afterFinish = undefined;
    const { set, ctx } = withSet(f);
    selectComponent(ctx, "data");
    ctx.records.save(record({ component: "cfg", stage: "installing", securityCounter: 6 }));
    equal(await reportSetInstalled(ctx), false);
    deepEqual(f.ops, [
      "finalize",
      "report app c-app",
      "report data c-data",
      ...[
        "report cfg c-cfg",
        "wait 10000",
        "report cfg c-cfg",
        "wait 10000",
        "report cfg c-cfg",
        "wait 10000",
      ],
    ]);
    deepEqual(f.states.slice(-1), ["updated: set app c-app, data c-data, cfg c-cfg"]);
    deepEqual([ctx.records.load(), ctx.records.securityCounter(), set.current], [undefined, 6, "app"]);
    deepEqual([ctx.config.component, ctx.progress.progress.targetVersion], ["app", "c-app"]);
  });

  it("reportSetInstalled: no open cycle without an installing record; a 10706 is told", async () => {
    const f = downloadFake();
    const { ctx } = withSet(f);
    ctx.records.save(record({ component: "cfg", stage: "downloading" }));
    await reportSetInstalled(ctx);
    deepEqual(f.ops, ["finalize", "report app c-app", "report data c-data", "report cfg c-cfg"]);
    equal(ctx.records.securityCounter(), 0);
    const g = downloadFake();
    g.afterFinish = { kind: "update-failed" };
    const other = withSet(g);
    other.ctx.records.save(record({ component: "data", stage: "installing" }));
    await reportSetInstalled(other.ctx);
    deepEqual(g.ops.slice(-2), ["report data c-data", "wait 10000"]);
    deepEqual(g.states.slice(-1), [
      "updated: set app c-app, data c-data, cfg c-cfg; the module reported 10706",
    ]);
  });
});
