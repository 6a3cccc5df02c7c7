// The monitoring page's HTTP server (node:http, no framework): the page, a server-sent-event stream of the hub's
// changes, a JSON snapshot, the live timeline SVG and the plan reload. Bound to 127.0.0.1 unless told otherwise.

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { HubMessage, MonitorHub } from "./hub.js";
import { PAGE_HTML } from "./page.js";

export interface WebServerOptions {
  hub: MonitorHub;
  port: number;
  host?: string;
  /** The current timeline as SVG text (the page shows it and refreshes it at each phase). */
  timeline?: () => string;
  /** Re-reads the plan; resolves with a message (an error keeps the module serving the plan it had). */
  reloadPlan?: () => Promise<{ ok: boolean; message: string }>;
  /** Heartbeat comment interval on the event streams (default 15 s). */
  heartbeatMs?: number;
}

export interface WebServer {
  url: string;
  port: number;
  /** Event-stream clients connected now. */
  clients(): number;
  close(): Promise<void>;
}

export class WebServerError extends Error {}

/** A stream client that buffers more than this is too slow (or gone): it is dropped, the module is not held up. */
const MAX_BUFFERED = 4 * 1024 * 1024;

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const host = options.host ?? "127.0.0.1";
  const { hub } = options;
  const streams = new Set<http.ServerResponse>();

  const write = (res: http.ServerResponse, chunk: string): void => {
    if (res.destroyed || res.writableEnded) {
      streams.delete(res);
      return;
    }
    if (res.writableLength > MAX_BUFFERED) {
      streams.delete(res);
      res.destroy();
      return;
    }
    res.write(chunk);
  };
  const sse = (message: HubMessage): string =>
    `event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
  const unsubscribe = hub.subscribe((message) => {
    if (streams.size === 0) return;
    const chunk = sse(message);
    for (const res of streams) write(res, chunk);
  });
  const flusher = setInterval(() => hub.flush(), 150);
  const heartbeat = setInterval(() => {
    for (const res of streams) write(res, `: keep-alive\n\n`);
  }, options.heartbeatMs ?? 15_000);
  flusher.unref();
  heartbeat.unref();

  const loopback = host === "127.0.0.1" || host === "localhost" || host === "::1";
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    res.setHeader("X-Content-Type-Options", "nosniff");
    // On loopback, only pages that name this machine may ask (a DNS-rebinding site names its own host).
    if (loopback && !/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(req.headers.host ?? "")) {
      res.writeHead(403, { "Content-Type": "text/plain" }).end("forbidden host");
      return;
    }
    if (req.method === "GET" && (url.pathname === "/" || url.pathname === "/index.html")) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      res.end(PAGE_HTML);
      return;
    }
    if (req.method === "GET" && url.pathname === "/events") {
      res.writeHead(200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
      });
      // A browser that goes away mid-stream only removes its stream.
      res.on("error", () => streams.delete(res));
      req.on("close", () => streams.delete(res));
      streams.add(res);
      write(res, `retry: 1000\n\n` + sse({ event: "snapshot" as HubMessage["event"], data: hub.snapshot() }));
      return;
    }
    if (req.method === "GET" && url.pathname === "/state.json") {
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(hub.snapshot()));
      return;
    }
    if (req.method === "GET" && url.pathname === "/timeline.svg") {
      if (!options.timeline) {
        res.writeHead(404).end("no timeline");
        return;
      }
      let svg: string;
      try {
        svg = options.timeline();
      } catch (error) {
        res.writeHead(500, { "Content-Type": "text/plain" }).end(`timeline: ${(error as Error).message}`);
        return;
      }
      res.writeHead(200, { "Content-Type": "image/svg+xml", "Cache-Control": "no-store" });
      res.end(svg);
      return;
    }
    if (url.pathname === "/api/reload-plan") {
      // Only the page itself may ask: a POST with a JSON body (a cross-site form cannot send one without CORS).
      if (
        req.method !== "POST" ||
        !String(req.headers["content-type"] ?? "").startsWith("application/json")
      ) {
        res
          .writeHead(405, { "Content-Type": "application/json" })
          .end(JSON.stringify({ ok: false, message: "POST JSON" }));
        return;
      }
      if (!options.reloadPlan) {
        res
          .writeHead(404, { "Content-Type": "application/json" })
          .end(JSON.stringify({ ok: false, message: "no plan file" }));
        return;
      }
      req.resume();
      options.reloadPlan().then(
        (outcome) => {
          res
            .writeHead(outcome.ok ? 200 : 400, { "Content-Type": "application/json" })
            .end(JSON.stringify(outcome));
        },
        (error: unknown) => {
          res
            .writeHead(500, { "Content-Type": "application/json" })
            .end(JSON.stringify({ ok: false, message: (error as Error).message }));
        },
      );
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
  });
  server.on("clientError", (_error, socket) => socket.destroy());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    clearInterval(flusher);
    clearInterval(heartbeat);
    unsubscribe();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${host}:${options.port}`;
    if (code === "EADDRINUSE")
      throw new WebServerError(
        `--web: port ${where} is already in use (another sota-module --web?); choose another port`,
      );
    if (code === "EACCES")
      throw new WebServerError(`--web: no permission to listen on ${where} (ports below 1024 need root)`);
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND")
      throw new WebServerError(`--web-host: ${host} is not an address of this machine`);
    throw new WebServerError(`--web: cannot listen on ${where}: ${(error as Error).message}`);
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    clients: () => streams.size,
    close: async () => {
      clearInterval(flusher);
      clearInterval(heartbeat);
      unsubscribe();
      for (const res of streams) res.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
