// Policy gates and version ordering: every gate refuses with its own code and reason, and only then.

import fc from "fast-check";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { decidePlan } from "../../../src/sota/policy.js";
import type { PlanOffer, PolicyContext } from "../../../src/sota/policy.js";
import { compareVersions } from "../../../src/sota/version.js";
import { assertProperty } from "../../lib/property.js";

const plan: PlanOffer = {
  component: "app",
  sourceVersion: "",
  targetVersion: "1.2.0",
  batteryMin: 20,
  signalMin: -100,
  space: 8192,
};
const context: PolicyContext = {
  component: "app",
  runningVersion: "1.1.9",
  allowDowngrade: false,
  batteryPercent: 50,
  signalDbm: -80,
  slotSize: 8192,
  acceptDifferential: true,
  maxFailures: 3,
};

describe("sota/policy", () => {
  it("accepts a plan that passes every gate", () => {
    deepEqual(decidePlan(plan, context), { accept: true, reason: "update 1.1.9 -> 1.2.0" });
  });

  const refusals: [string, Partial<PlanOffer>, Partial<PolicyContext>, string, string][] = [
    ["another component", { component: "gnss" }, {}, "component", 'component "gnss" is not ours ("app")'],
    [
      "diff from another source",
      { sourceVersion: "1.1.8" },
      {},
      "source-version",
      "differential package for 1.1.8, running 1.1.9",
    ],
    ["same version", { targetVersion: "1.1.9" }, {}, "not-newer", "already running 1.1.9"],
    [
      "downgrade",
      { targetVersion: "1.1.10" },
      { runningVersion: "1.2.0" },
      "not-newer",
      "downgrade to 1.1.10 from 1.2.0 not allowed",
    ],
    ["battery", {}, { batteryPercent: 19 }, "battery", "battery 19% below the plan's minimum 20%"],
    ["signal", {}, { signalDbm: -101 }, "signal", "signal -101 dBm below the plan's minimum -100 dBm"],
    ["unknown signal", {}, { signalDbm: undefined }, "signal", "signal unknown, the plan needs -100 dBm"],
    ["size", { space: 8193 }, {}, "space", "image of 8193 bytes does not fit the 8192-byte slot"],
    [
      "rolled back before",
      {},
      { history: { rejectedReason: "health check failed", failures: 0 } },
      "rejected",
      "1.2.0 was rolled back on this device (health check failed)",
    ],
    [
      "failed too often",
      {},
      { history: { rejectedReason: "", failures: 3 } },
      "failures",
      "1.2.0 failed 3 times on this device",
    ],
    [
      "differential when only full images are taken",
      { sourceVersion: "1.1.9" },
      { acceptDifferential: false },
      "differential",
      "differential package from 1.1.9: this device installs full images only",
    ],
    ["no target version", { targetVersion: "" }, {}, "version", "the plan has no target version"],
    ["running version unknown", {}, { runningVersion: "" }, "version", "the running version is unknown"],
  ];
  for (const [name, offer, ctx, code, reason] of refusals) {
    it(`refuses: ${name}`, () => {
      deepEqual(decidePlan({ ...plan, ...offer }, { ...context, ...ctx }), {
        accept: false,
        code,
        reason,
      } as never);
    });
  }

  it("takes a diff from the running version, a downgrade when allowed, and treats signal minimum 0 (a missing number) as none", () => {
    equal(decidePlan({ ...plan, sourceVersion: "1.1.9" }, context).accept, true);
    equal(decidePlan({ ...plan, targetVersion: "1.0.0" }, { ...context, allowDowngrade: true }).accept, true);
    equal(decidePlan({ ...plan, signalMin: 0 }, { ...context, signalDbm: undefined }).accept, true);
    equal(decidePlan(plan, { ...context, history: { rejectedReason: "", failures: 2 } }).accept, true);
  });

  it("takes an offer at exactly each minimum: battery, signal and slot size", () => {
    deepEqual(decidePlan(plan, { ...context, batteryPercent: 20 }), {
      accept: true,
      reason: "update 1.1.9 -> 1.2.0",
    });
    deepEqual(decidePlan(plan, { ...context, signalDbm: -100 }), {
      accept: true,
      reason: "update 1.1.9 -> 1.2.0",
    });
    deepEqual(decidePlan({ ...plan, space: 8192 }, { ...context, slotSize: 8192 }), {
      accept: true,
      reason: "update 1.1.9 -> 1.2.0",
    });
  });

  it("takes a full package when differential ones are refused", () => {
    equal(decidePlan({ ...plan, sourceVersion: "" }, { ...context, acceptDifferential: false }).accept, true);
  });

  it("orders versions: missing parts are 0, leading zeros are numbers, mixed parts compare as text", () => {
    ok(compareVersions("1.0.1", "1.0") > 0, "a longer version with a non-zero part");
    ok(compareVersions("1.0", "1.0.1") < 0);
    equal(compareVersions("1.0.0", "1.0"), 0, "a missing part counts as 0");
    ok(compareVersions("01.2", "1.1") > 0, "01 equals 1, so the next part decides");
    ok(compareVersions("1a", "2") < 0, "1a is not a number: text order");
    ok(compareVersions("2", "1a") > 0);
  });

  it("orders versions numerically per part (fast-check: antisymmetric, transitive on samples, reflexive)", () => {
    equal(compareVersions("1.10.0", "1.9.9") > 0, true);
    equal(compareVersions("1_0_0", "1.0.0"), 0);
    equal(compareVersions("1.0", "1.0.0"), 0);
    ok(compareVersions("2.0.0-rc1", "2.0.0-rc2") < 0);
    const version = fc
      .array(fc.oneof(fc.nat(30).map(String), fc.constantFrom("a", "rc1", "b2")), {
        minLength: 1,
        maxLength: 4,
      })
      .map((p) => p.join("."));
    assertProperty(
      fc.property(version, version, version, (a, b, c) => {
        equal(Math.sign(compareVersions(a, b)), -Math.sign(compareVersions(b, a)) || 0);
        equal(compareVersions(a, a), 0);
        if (compareVersions(a, b) < 0 && compareVersions(b, c) < 0)
          ok(compareVersions(a, c) < 0, `${a} < ${b} < ${c}`);
      }),
      { numRuns: 300 },
    );
  });
});
