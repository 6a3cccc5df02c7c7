// Policy gates: decide whether a 10700 plan is confirmed or refused, with a reason the app can read.

import type { QuecEvent } from "../quecthing/events.js";
import { compareVersions } from "./version.js";

/** The fields of a 10700 offer. */
export type PlanOffer = Omit<Extract<QuecEvent, { kind: "plan" }>, "kind">;

export interface PolicyContext {
  component: string;
  runningVersion: string;
  allowDowngrade: boolean;
  batteryPercent: number;
  /** Signal from AT+CSQ in dBm, or undefined when the module does not know it. */
  signalDbm: number | undefined;
  slotSize: number;
  /** A version of ours that was rolled back on this device, with why: not taken again. */
  rejected?: { version: string; reason: string };
}

export type RefusalCode = "component" | "rejected" | "source-version" | "not-newer" | "battery" | "signal" | "space";

export type PolicyDecision = { accept: true; reason: string } | { accept: false; code: RefusalCode; reason: string };

export function decidePlan(plan: PlanOffer, context: PolicyContext): PolicyDecision {
  if (plan.component !== context.component) {
    return { accept: false, code: "component", reason: `component "${plan.component}" is not ours ("${context.component}")` };
  }
  if (context.rejected && plan.targetVersion === context.rejected.version) {
    return {
      accept: false,
      code: "rejected",
      reason: `${plan.targetVersion} was rolled back on this device (${context.rejected.reason})`,
    };
  }
  // A differential package only applies on top of the exact version it was built from.
  if (plan.sourceVersion !== "" && plan.sourceVersion !== context.runningVersion) {
    return {
      accept: false,
      code: "source-version",
      reason: `differential package for ${plan.sourceVersion}, running ${context.runningVersion}`,
    };
  }
  const order = compareVersions(plan.targetVersion, context.runningVersion);
  if (order === 0 || (order < 0 && !context.allowDowngrade)) {
    return {
      accept: false,
      code: "not-newer",
      reason: order === 0 ? `already running ${plan.targetVersion}` : `downgrade to ${plan.targetVersion} from ${context.runningVersion} not allowed`,
    };
  }
  if (context.batteryPercent < plan.batteryMin) {
    return { accept: false, code: "battery", reason: `battery ${context.batteryPercent}% below the plan's minimum ${plan.batteryMin}%` };
  }
  // A missing number prints as 0 (reference §9a), and real minimums are negative dBm: >= 0 means "no minimum".
  if (plan.signalMin < 0) {
    if (context.signalDbm === undefined) {
      return { accept: false, code: "signal", reason: `signal unknown, the plan needs ${plan.signalMin} dBm` };
    }
    if (context.signalDbm < plan.signalMin) {
      return { accept: false, code: "signal", reason: `signal ${context.signalDbm} dBm below the plan's minimum ${plan.signalMin} dBm` };
    }
  }
  if (plan.space > context.slotSize) {
    return { accept: false, code: "space", reason: `image of ${plan.space} bytes does not fit the ${context.slotSize}-byte slot` };
  }
  return { accept: true, reason: `update ${context.runningVersion} -> ${plan.targetVersion}` };
}
