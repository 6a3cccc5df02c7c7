// Developer Center plan: validation errors that name the field, white/black lists, differential matching, monitoring log.

import { equal, ok, deepEqual, throws } from "../../lib/assert.js";
import fc from "fast-check";
import { parsePlan, parseSettings, matchComponent, PlanError } from "../../../tools/module/plan.js";
import { MonitorLog } from "../../../tools/module/monitor.js";
import { makeRig, OK, evt } from "./harness.js";
import { assertProperty } from "../../lib/property.js";

const base = { id: "MCU", targetVersion: "2.0.0", package: "fw.bin" };
const planWith = (component: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  components: [{ ...base, ...component }],
  ...extra,
});

describe("tools/module plan validation", () => {
  it("fills the defaults of a minimal plan", () => {
    const plan = parsePlan(JSON.stringify({ product: "p1", components: [base] }));
    deepEqual(plan.components[0], {
      id: "MCU",
      type: "full",
      sourceVersion: "",
      targetVersion: "2.0.0",
      package: "fw.bin",
      minBattery: 0,
      minSignal: 0,
      whitelist: [],
      blacklist: [],
    });
    deepEqual(plan.settings, {});
    deepEqual(plan.faults, []);
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ["bad JSON", "{", /^plan: \(file\): not valid JSON/],
    ["not an object", [], /^plan: \(file\): expected a JSON object/],
    ["no components", { components: [] }, /^plan: components: expected a non-empty array/],
    ["unknown top field", { components: [base], colour: 1 }, /^plan: colour: unknown field/],
    [
      "id too long",
      planWith({ id: "x".repeat(33) }),
      /^plan: components\[0\]\.id: length 33 bytes, allowed 1-32/,
    ],
    ["empty id", planWith({ id: "" }), /components\[0\]\.id: length 0/],
    [
      "quote in version",
      planWith({ targetVersion: 'a"b' }),
      /components\[0\]\.targetVersion: must not contain/,
    ],
    [
      "comma in version",
      planWith({ targetVersion: "1,2" }),
      /components\[0\]\.targetVersion: must not contain/,
    ],
    [
      "version too long",
      planWith({ targetVersion: "9".repeat(65) }),
      /components\[0\]\.targetVersion: length 65/,
    ],
    ["bad type", planWith({ type: "delta" }), /components\[0\]\.type: "full" or "diff"/],
    ["diff without source", planWith({ type: "diff" }), /components\[0\]\.sourceVersion: expected a string/],
    [
      "full with source",
      planWith({ sourceVersion: "1.0" }),
      /components\[0\]\.sourceVersion: only a differential package/,
    ],
    ["no package", planWith({ package: "" }), /components\[0\]\.package: expected the package file name/],
    [
      "battery above 100",
      planWith({ minBattery: 101 }),
      /components\[0\]\.minBattery: 101 is outside 0\.\.100/,
    ],
    ["signal not integer", planWith({ minSignal: -90.5 }), /components\[0\]\.minSignal: expected an integer/],
    ["whitelist not array", planWith({ whitelist: "dev1" }), /components\[0\]\.whitelist: expected an array/],
    [
      "blacklist entry",
      planWith({ blacklist: ["ok", 3] }),
      /components\[0\]\.blacklist\[1\]: expected a non-empty device id/,
    ],
    ["unknown component field", planWith({ url: "x" }), /components\[0\]\.url: unknown field/],
    ["duplicate component", { components: [base, base] }, /components\[1\]\.id: "MCU" appears twice/],
    ["unknown setting", planWith({}, { settings: { speed: 3 } }), /settings\.speed: unknown setting/],
    ["bad setting", planWith({}, { settings: { freeSpace: 0 } }), /settings\.freeSpace: 0 is outside 1\.\./],
    [
      "bad choice",
      planWith({}, { settings: { overLengthRead: "truncate" } }),
      /settings\.overLengthRead: one of "error", "clamp"/,
    ],
    ["bad fault", planWith({}, { faults: ["drop"] }), /^plan: faults\[0\]: .*at: required/],
    [
      "bad fault object",
      planWith({}, { faults: [{ kind: "error" }] }),
      /^plan: faults\[0\]: .*cmd: required/,
    ],
  ];
  for (const [name, input, pattern] of cases) {
    it(`rejects: ${name}`, () =>
      throws(
        () => parsePlan(input),
        (e) => e instanceof PlanError && pattern.test(e.message),
      ));
  }

  it("accepts settings and faults (strings and objects)", () => {
    const plan = parsePlan(
      planWith(
        {},
        {
          settings: { deviceId: "d7", freeSpace: 4096, signalDbm: null, echo: false },
          faults: ["fail:byte=10", { kind: "race", ms: 100 }],
        },
      ),
    );
    deepEqual(plan.settings, { deviceId: "d7", freeSpace: 4096, signalDbm: null, echo: false });
    deepEqual(plan.faults, [
      { kind: "fail", byte: 10 },
      { kind: "race", ms: 100 },
    ]);
    deepEqual(parseSettings({ regMode: 2 }), { regMode: 2 });
  });

  it("property: any JSON value is either a valid plan or a PlanError, never another exception", () => {
    assertProperty(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parsePlan(value);
        } catch (error) {
          return error instanceof PlanError;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});

describe("tools/module plan matching", () => {
  const full = parsePlan(planWith({ whitelist: ["a", "b"], blacklist: ["b"] })).components[0]!;
  const diff = parsePlan(planWith({ type: "diff", sourceVersion: "1.0" })).components[0]!;
  it("white and black lists (black wins), versions, differential source", () => {
    equal(matchComponent(full, "a", "1.0"), "");
    equal(matchComponent(full, "b", "1.0"), "device is blacklisted");
    equal(matchComponent(full, "c", "1.0"), "device is not whitelisted");
    equal(matchComponent(full, "a", undefined), "component not reported by the device (AT+QIOTMCUVER)");
    equal(matchComponent(full, "a", "2.0.0"), "already at the target version");
    equal(matchComponent(diff, "x", "1.0"), "");
    equal(matchComponent(diff, "x", "1.1"), "running 1.1, the differential package needs 1.0");
  });

  it("the module offers by device id: a blacklisted device gets nothing, a whitelisted one the plan", () => {
    const plan = parsePlan({
      product: "p11abc",
      components: [{ ...base, whitelist: ["dev-A", "dev-B"], blacklist: ["dev-B"] }],
    });
    const offered = makeRig({ plan, settings: { deviceId: "dev-A" } });
    equal(offered.exchange("AT+QIOTOTAREQ=1\r", 100), OK + evt('7,10700,"MCU","","2.0.0",0,0,19656'));
    equal(makeRig({ plan, settings: { deviceId: "dev-B" } }).exchange("AT+QIOTOTAREQ=1\r", 100), OK);
    equal(makeRig({ plan, settings: { deviceId: "dev-C" } }).exchange("AT+QIOTOTAREQ=1\r", 100), OK);
  });
});

describe("tools/module monitoring log", () => {
  it("JSON lines and a readable table per device and component", () => {
    const log = new MonitorLog();
    const seen: string[] = [];
    log.subscribe((e) => seen.push(MonitorLog.toJsonLine(e)));
    log.add({ time: 1, device: "d1", component: "MCU", event: "offered", targetVersion: "2.0" });
    log.add({ time: 2, device: "d1", component: "MCU", event: "confirmed", targetVersion: "2.0" });
    log.add({
      time: 3,
      device: "d1",
      component: "MCU",
      event: "failure",
      targetVersion: "2.0",
      reason: "MCU read idle for 60000 ms",
    });
    equal(
      seen[2],
      '{"time":3,"device":"d1","component":"MCU","event":"failure","targetVersion":"2.0","reason":"MCU read idle for 60000 ms"}',
    );
    equal(log.toJsonLines().split("\n").length, 4);
    equal(
      log.table(),
      "device | component | target | offers | confirms | failures | last status | reason\n" +
        "-------+-----------+--------+--------+----------+----------+-------------+---------------------------\n" +
        "d1     | MCU       | 2.0    | 1      | 1        | 1        | failure     | MCU read idle for 60000 ms\n",
    );
    ok(new MonitorLog().table().includes("no plan activity"));
  });

  it("the module logs the reason of a failure", () => {
    const r = makeRig();
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 3000);
    r.exchange('AT+QIOTMCUVER="MCU","1.9"\r');
    const last = r.module.monitor.entries[r.module.monitor.entries.length - 1]!;
    deepEqual(last, {
      time: last.time,
      device: "virtual-device-1",
      component: "MCU",
      event: "failure",
      targetVersion: "2.0.0",
      reason: 'device reported "1.9", target "2.0.0"',
    });
  });
});
