// One XS worker with a bundled entry loaded, for the benchmarks: `run` evaluates code and throws on an XS exception.
import { build } from "esbuild";
import { XsnapWorker, type XsReply } from "./xsnap-worker.js";

export interface XsBench {
  run(code: string): Promise<XsReply>;
  close(): Promise<void>;
}

/**
 * Bundles `entry` (a file path, or `{ contents, resolveDir }` source) for XS and loads it into a new worker.
 * Static class fields are lowered: XS 13 rejects noble's classes that make instances of themselves in one.
 */
export async function openXsBench(
  name: string,
  entry: string | { contents: string; resolveDir: string },
): Promise<XsBench> {
  const bundle = await build({
    ...(typeof entry === "string"
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.contents, resolveDir: entry.resolveDir, loader: "js" as const } }),
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    supported: { "class-static-field": false },
    mainFields: ["module", "main"],
  });
  const worker = new XsnapWorker(name);
  const run = async (code: string): Promise<XsReply> => {
    const reply = await worker.evaluate(code);
    if (!reply.ok) throw new Error(reply.text);
    return reply;
  };
  try {
    await run(bundle.outputFiles[0]!.text);
  } catch (error) {
    await worker.close();
    throw error;
  }
  return { run, close: () => worker.close() };
}
