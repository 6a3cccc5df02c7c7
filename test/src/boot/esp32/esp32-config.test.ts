// The ESP32 build's settings agree: the task watchdog of the sdkconfig fragment and the manifest, the UART receive
// threshold's margin at 115200 and 921600 baud, the AT+IFC builder's exact text.

import { readFileSync } from "node:fs";
import { equal, ok } from "../../../lib/assert.js";
import { uartTuning } from "../../../../hal/moddable/uart-tuning.js";
import { AT } from "../../../../src/quecthing/commands.js";

describe("src/boot/esp32 build settings", () => {
  it("the task watchdog is on, panics into a reset, and its timeout is the manifest's watchdogMs", () => {
    const sdkconfig = readFileSync("hal/moddable/esp32/sdkconfig/sdkconfig.defaults", "utf8");
    for (const line of [
      "CONFIG_ESP_TASK_WDT_EN=y",
      "CONFIG_ESP_TASK_WDT_INIT=y",
      "CONFIG_ESP_TASK_WDT_PANIC=y",
    ])
      ok(sdkconfig.split("\n").includes(line), line);
    const timeout = Number(/^CONFIG_ESP_TASK_WDT_TIMEOUT_S=(\d+)$/m.exec(sdkconfig)![1]);
    const manifest = JSON.parse(readFileSync("manifest.json", "utf8"));
    equal(manifest.platforms.esp32.config.sotaWatchdogMs, timeout * 1000);
  });

  it("receive threshold: 5 ms of room at 115200; at 921600 the FIFO holds only 1.4 ms, so RTS/CTS", () => {
    const slow = uartTuning(115200);
    equal(slow.rxThreshold, 70);
    equal(slow.marginMs.toFixed(2), "5.03");
    const fast = uartTuning(921600);
    equal(fast.rxThreshold, 1);
    equal(fast.marginMs.toFixed(2), "1.38");
    equal(fast.flowThreshold, 112);
  });

  it("AT+IFC", () => {
    equal(AT.flowControl(true), "AT+IFC=2,2");
    equal(AT.flowControl(false), "AT+IFC=0,0");
  });
});
