// The module's OTA states (the SDK's, S1) and the sets of them the other sections ask about.
// The states are saved to module flash on every change; docs/protocol.md §3 says what each one accepts.

export const OtaState = {
  NOPLAN: 0,
  REVICEPLAN: 1,
  SUBMITOTA: 2,
  REFUSED: 3,
  DOWNLOADSTART: 4,
  DOWNLOADING: 5,
  DOWNLOADERROR: 6,
  DOWNLOADSUCCESS: 8,
  UPDATING: 9,
  UPDATESUCCESS: 11,
  UPDATEERROR: 12,
} as const;
export type OtaStateNumber = (typeof OtaState)[keyof typeof OtaState];

/**
 * From the confirm until the OTA ends. S1 uses this one range for two rules: new plan notifications are
 * ignored ("no restart", docs/protocol.md §9.12), and a version report of the OTA's component is compared with
 * the stored target at once (docs/protocol.md §3, §9.9). NOPLAN and REVICEPLAN are outside it, so an offered
 * but unanswered plan is offered again.
 */
export const OTA_ACTIVE: ReadonlySet<number> = new Set([
  OtaState.SUBMITOTA,
  OtaState.DOWNLOADSTART,
  OtaState.DOWNLOADING,
  OtaState.DOWNLOADSUCCESS,
  OtaState.UPDATING,
]);

/** States whose plan and piece live in RAM only: a module boot ends them. */
export const DOWNLOAD_STATES: ReadonlySet<number> = new Set([
  OtaState.SUBMITOTA,
  OtaState.DOWNLOADSTART,
  OtaState.DOWNLOADING,
  OtaState.DOWNLOADSUCCESS,
]);

/** A boot in this state loses the plan or download the module was working on. */
export function lostAtBoot(state: number): boolean {
  return state === OtaState.REVICEPLAN || DOWNLOAD_STATES.has(state);
}

/**
 * S1 Ql_iotCmdOtaStatusRecovery at every boot (power-on with saved flash too): the plan and piece are RAM/cache
 * only, so a download state posts DOWNLOADERROR (counted: 1 of the 6) and the module is idle again, silently.
 */
export function recoverAtBoot(state: number): { state: number; downloadFailures: number } {
  return {
    state: lostAtBoot(state) ? OtaState.NOPLAN : state,
    downloadFailures: DOWNLOAD_STATES.has(state) ? 1 : 0,
  };
}
