// Test helper: a simulated update whose module events (AT trace, monitoring log) feed a MonitorHub, optionally shifted
// in time so that several runs look like one module serving updates one after another.

import type { SimRunOptions, SimRunResult } from "../../../tools/timeline/sim-run.js";
import { runSimulatedUpdate } from "../../../tools/timeline/sim-run.js";
import type { MonitorHub } from "../../../tools/web/hub.js";

export async function feedHub(
  hub: MonitorHub,
  options: SimRunOptions & { offsetMs?: number },
): Promise<SimRunResult> {
  const offset = options.offsetMs ?? 0;
  return runSimulatedUpdate({
    ...options,
    onTrace: (entry) => {
      hub.trace({ ...entry, time: entry.time + offset });
      options.onTrace?.(entry);
    },
    onModule: (module, plan, clock) => {
      hub.setDeviceId(module.settings.deviceId);
      hub.setPlans(plan.components, () => options.imageSize);
      // Monitoring entries count from power-on, which is the simulated clock's 0.
      module.monitor.subscribe((entry) => hub.monitor({ ...entry, time: entry.time + offset }));
      options.onModule?.(module, plan, clock);
    },
  });
}
