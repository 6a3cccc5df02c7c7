// A task of several components (src/sota/offers.ts, decideSet) against a hand-made component set (mutation-testing
// survivors): each refusal's text, "current" only when every component runs its target, the confirm's record. Portable.

import { deepEqual, equal } from "../../lib/assert.js";
import type { ComponentSet } from "../../../src/components/set.js";
import type { EngineContext } from "../../../src/sota/context.js";
import { decide } from "../../../src/sota/offers.js";
import type { PlanOffer } from "../../../src/sota/policy.js";
import { downloadFake, record, type DownloadFake } from "./download-fake.js";

const offer = (component: string, targetVersion: string, changes: Partial<PlanOffer> = {}): PlanOffer => ({
  component,
  sourceVersion: "",
  targetVersion,
  batteryMin: 0,
  signalMin: -200,
  space: 1000,
  ...changes,
});

function withSet(f: DownloadFake) {
  const kinds: Record<string, string> = { app: "image", data: "data" };
  const committed: Record<string, string> = { app: "1.0.0", data: "5" };
  const set = {
    imageId: "app",
    current: "app",
    pendingClose: "",
    components: [
      { id: "app", kind: "image" },
      { id: "data", kind: "data" },
    ],
    member: (id: string) => (kinds[id] ? { id, kind: kinds[id] } : undefined),
    committed: (id: string) => committed[id] ?? "",
    capacity: (id: string) => (id === "app" ? 65536 : 2048),
    beginTask: (offers: PlanOffer[]) => void f.ops.push(`begin ${offers.map((o) => o.component).join(",")}`),
  };
  const ctx: EngineContext = { ...f.ctx, set: set as unknown as ComponentSet };
  return { set, ctx };
}

describe("src/sota/offers edges: a task of several components", () => {
  it("every component ours and newer: the task begun, the first component in work, its record written, confirmed", async () => {
    const f = downloadFake();
    const { set, ctx } = withSet(f);
    equal(
      await decide(ctx, [offer("data", "6", { space: 2048 }), offer("app", "2.0.0", { space: 3000 })]),
      true,
    );
    deepEqual(f.ops, ["signal", "begin data,app", "confirm"]);
    deepEqual(f.states, [
      "offered: data (full) -> 6, 2048 bytes; app (full) -> 2.0.0, 3000 bytes",
      "confirmed: update data 5 -> 6, app 1.0.0 -> 2.0.0",
    ]);
    deepEqual([ctx.progress.progress.targetVersion, ctx.progress.progress.total], ["6", 5048]);
    deepEqual([ctx.config.component, ctx.config.slotSize, set.current], ["data", 2048, "data"]);
    deepEqual(
      ctx.records.load(),
      record({
        component: "data",
        targetVersion: "6",
        stage: "confirmed",
        size: 0,
        md5: "",
        sha256: "",
        crc: 0,
      }),
    );
  });

  it("refused as a whole, one reason per component: a stranger, a delta for data, a gate", async () => {
    const f = downloadFake();
    const { ctx } = withSet(f);
    ctx.records.save(record());
    equal(
      await decide(ctx, [
        offer("gnss", "2"),
        offer("data", "6", { sourceVersion: "5" }),
        offer("app", "2.0.0", { space: 70000 }),
        offer("data", "7", { space: 2049 }),
      ]),
      false,
    );
    const reasons = [
      "gnss: not a component of this device (app, data)",
      "data: a differential package for a data component (only the image takes deltas)",
      "app: image of 70000 bytes does not fit the 65536-byte slot",
      "data: image of 2049 bytes does not fit the 2048-byte slot",
    ];
    deepEqual(f.ops, ["signal", "refuse"]);
    deepEqual(
      f.logs.filter((l) => l.startsWith("task refused")),
      reasons.map((r) => `task refused: ${r}`),
    );
    deepEqual(f.states.slice(-1), [`refused: ${reasons.join("; ")}`]);
    equal(ctx.records.load()?.stage, "stalled");
    equal(ctx.config.component, "app");
  });

  it("a delta for the image is judged by the gates; differential packages accepted when configured", async () => {
    const f = downloadFake({ config: { acceptDifferential: true } });
    const { ctx } = withSet(f);
    equal(await decide(ctx, [offer("app", "2.0.0", { sourceVersion: "1.0.0" })]), true);
  });

  it("current only when every component already runs its target", async () => {
    const f = downloadFake();
    const { ctx } = withSet(f);
    equal(await decide(ctx, [offer("app", "1.0.0"), offer("data", "5")]), false);
    deepEqual(f.states.slice(-1), ["current: app: already running 1.0.0; data: already running 5"]);
    const g = downloadFake();
    const other = withSet(g);
    await decide(other.ctx, [offer("app", "1.0.0"), offer("data", "6")]);
    deepEqual(g.states.slice(-1), ["refused: app: already running 1.0.0"]);
    const h = downloadFake();
    const third = withSet(h);
    await decide(third.ctx, [offer("app", "0.9.0"), offer("data", "5")]);
    deepEqual(h.states.slice(-1), [
      "refused: app: downgrade to 0.9.0 from 1.0.0 not allowed; data: already running 5",
    ]);
  });

  it("each component's own history and settings: failures, battery", async () => {
    const f = downloadFake({ config: { maxFailures: 2 } });
    const { ctx } = withSet(f);
    ctx.records.saveHistory({
      component: "data",
      version: "6",
      failures: 2,
      rejectedReason: "",
      lastFailure: "",
      announced: false,
    });
    equal(await decide(ctx, [offer("data", "6"), offer("app", "2.0.0", { batteryMin: 101 })]), false);
    deepEqual(f.states.slice(-1), [
      "refused: data: 6 failed 2 times on this device; app: battery 100% below the plan's minimum 101%",
    ]);
  });

  it("a component at its target refused by another gate (failures) is refused, not current", async () => {
    const f = downloadFake();
    const { ctx } = withSet(f);
    ctx.records.saveHistory({
      component: "data",
      version: "5",
      failures: 3,
      rejectedReason: "",
      lastFailure: "",
      announced: false,
    });
    equal(await decide(ctx, [offer("data", "5")]), false);
    deepEqual(f.states.slice(-1), ["refused: data: 5 failed 3 times on this device"]);
  });

  it("one component: the running version refused by another gate (failures) is refused, not current", async () => {
    const f = downloadFake();
    f.ctx.records.saveHistory({
      component: "app",
      version: "1.0.0",
      failures: 3,
      rejectedReason: "",
      lastFailure: "",
      announced: false,
    });
    equal(await decide(f.ctx, [offer("app", "1.0.0")]), false);
    deepEqual(f.ops, ["signal", "refuse"]);
    deepEqual(f.states.slice(-1), ["refused: 1.0.0 failed 3 times on this device"]);
  });
});
