// Probes `GET /health` every `everyMs` until stopped, recording each answer's time in
// milliseconds; a probe that failed, answered non-2xx or took over `timeoutMs` counts as
// `timeoutMs`. Used by the storm scenario and its end-to-end test.
import { sleep } from "./scenario.ts";

export interface HealthProbe {
  readonly times: number[];
  stop(): Promise<void>;
}

export function probeHealth(httpBase: string, everyMs = 250, timeoutMs = 5_000): HealthProbe {
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await fetch(`${httpBase}/health`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        times.push(response.ok ? performance.now() - started : timeoutMs);
      } catch {
        times.push(timeoutMs);
      }
      await sleep(Math.max(0, everyMs - (performance.now() - started)));
    }
  })();
  return {
    times,
    async stop() {
      running = false;
      await loop;
    },
  };
}
