// Property runs with a printed, replayable seed: `FC_SEED=<n>` replays every property of a run (portable: XS too).
// Without it each run draws a fresh seed, so repeated runs keep exploring; a failure names the seed that found it.
import fc from "fast-check";

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

function drawSeed(): number {
  const fixed = env["FC_SEED"];
  if (fixed === undefined || fixed === "") return (Math.random() * 0x7fffffff) | 0;
  const seed = Number(fixed);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED=${fixed} is not an integer`);
  return seed | 0;
}

/** This run's seed: every property of the run starts from it unless it passes its own. */
export const runSeed = drawSeed();

function withSeed(error: unknown, seed: number): unknown {
  const notice = `replay with FC_SEED=${seed}`;
  if (error instanceof Error) {
    error.message = `${notice}\n${error.message}`;
    return error;
  }
  return new Error(`${notice}\n${String(error)}`);
}

/** fc.assert with the run's seed (or `parameters.seed`), which a failure prints. */
export function assertProperty<Ts>(property: fc.IProperty<Ts>, parameters?: fc.Parameters<Ts>): void;
export function assertProperty<Ts>(
  property: fc.IAsyncProperty<Ts>,
  parameters?: fc.Parameters<Ts>,
): Promise<void>;
export function assertProperty<Ts>(
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  parameters: fc.Parameters<Ts> = {},
): void | Promise<void> {
  const seed = parameters.seed ?? runSeed;
  let outcome: void | Promise<void>;
  try {
    outcome = fc.assert(property as fc.IProperty<Ts>, { ...parameters, seed }) as void | Promise<void>;
  } catch (error) {
    throw withSeed(error, seed);
  }
  if (outcome instanceof Promise)
    return outcome.catch((error: unknown) => {
      throw withSeed(error, seed);
    });
}
