/**
 * The handler's isReady() (python_backend's is_ready): called when main checks readiness, sync
 * or async. It must give a boolean; a throw or another value is "not ready", with why.
 */
import type { TritonModel } from "./sdk/index.js";

export async function checkReady(model: TritonModel | null): Promise<{ ready: boolean; error?: string }> {
  if (!model || typeof model.isReady !== "function") return { ready: true };
  try {
    const result: unknown = await model.isReady();
    if (typeof result !== "boolean") return { ready: false, error: "is_ready() must return a boolean value" };
    return { ready: result };
  } catch (err) {
    return { ready: false, error: err instanceof Error ? err.message : String((err as { message?: () => string })?.message?.() ?? err) };
  }
}
