// The module's OTA state sets: one active range for "ignore new plans" and "compare a version report", boot recovery.

import { deepEqual } from "../../lib/assert.js";
import { DOWNLOAD_STATES, OTA_ACTIVE, OtaState, recoverAtBoot } from "../../../tools/module/ota-states.js";

describe("tools/module OTA states", () => {
  it("the active range runs from the confirm to UPDATING (docs/protocol.md §3, §9.12)", () => {
    const { SUBMITOTA, DOWNLOADSTART, DOWNLOADING, DOWNLOADSUCCESS, UPDATING } = OtaState;
    deepEqual([...OTA_ACTIVE], [SUBMITOTA, DOWNLOADSTART, DOWNLOADING, DOWNLOADSUCCESS, UPDATING]);
    deepEqual([...DOWNLOAD_STATES], [SUBMITOTA, DOWNLOADSTART, DOWNLOADING, DOWNLOADSUCCESS]);
  });

  it("boot: a plan or download state returns to NOPLAN, a download state counts one failure; others stay", () => {
    deepEqual(
      Object.values(OtaState).map((state) => [state, recoverAtBoot(state)]),
      [
        [0, { state: 0, downloadFailures: 0 }],
        [1, { state: 0, downloadFailures: 0 }],
        [2, { state: 0, downloadFailures: 1 }],
        [3, { state: 3, downloadFailures: 0 }],
        [4, { state: 0, downloadFailures: 1 }],
        [5, { state: 0, downloadFailures: 1 }],
        [6, { state: 6, downloadFailures: 0 }],
        [8, { state: 0, downloadFailures: 1 }],
        [9, { state: 9, downloadFailures: 0 }],
        [11, { state: 11, downloadFailures: 0 }],
        [12, { state: 12, downloadFailures: 0 }],
      ],
    );
  });
});
