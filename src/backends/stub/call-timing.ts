/**
 * Call timing: splits each answered call's time into the statistics' compute_input, queue wait,
 * compute_infer and compute_output, hands it to the call's requests, and keeps the moving average
 * of execute() that the scheduler reads (ModelInstance.recentExecNs). It observes the channel.
 */
import { nowNs, type CallTiming } from "../../core/statistics.js";
import type { AnsweredCall, StubChannel } from "./stub-channel.js";

export class CallTimer {
  /** When the latest response arrived (nowNs): the stub started its next call right after it. */
  #lastAnswerNs = 0;
  #recentExecNs: number | undefined;

  /** How long the handler's execute() took lately (ns, a moving average); undefined before any call. */
  get recentExecNs(): number | undefined {
    return this.#recentExecNs;
  }

  observe(channel: StubChannel): void {
    channel.observe((call) => this.#time(call));
  }

  /**
   * A call sent while the previous one executed only started when that one's answer came back:
   * the gap is waiting, not output work.
   */
  #time(call: AnsweredCall): void {
    const previousAnswerNs = this.#lastAnswerNs;
    this.#lastAnswerNs = call.receivedNs;
    const execNs = call.execNs;
    if (execNs === undefined) return; // the handler never ran
    this.#recentExecNs = this.#recentExecNs === undefined ? execNs : 0.8 * this.#recentExecNs + 0.2 * execNs;
    const endNs = nowNs();
    // The handler ran for execNs before its answer came: it started no later than latestStart,
    // whatever the two processes' schedulers made of the stamps around it.
    const latestStart = Math.max(call.startNs, endNs - execNs);
    const sentNs = Math.min(call.sentNs, latestStart);
    // The stub began this call when it finished the previous one, a little before main heard of
    // it: never place the start later than the handler's own duration allows.
    const startedNs = Math.max(sentNs, Math.min(previousAnswerNs, latestStart));
    const timing: CallTiming = {
      requests: call.requests,
      inputNs: sentNs - call.startNs,
      waitNs: startedNs - sentNs,
      inferNs: execNs,
      outputNs: Math.max(0, endNs - startedNs - execNs),
      startNs: call.startNs,
      endNs,
    };
    for (const r of call.requests) if (r.times) r.times.call = timing;
  }
}
